"""Production at scale: portable samplers (:mod:`~nis.production.artifact`, ``nis integrate
--save DIR``) and event generation from them in one process or fanned out over Dask workers
(:mod:`~nis.production.generate`, ``nis generate DIR``)."""

from nis.production.artifact import ArtifactError, load_artifact, save_artifact, stream_seed
from nis.production.generate import GenerationError, generate_distributed, generate_local, plan

__all__ = ["ArtifactError", "GenerationError", "generate_distributed", "generate_local", "load_artifact", "plan",
           "save_artifact", "stream_seed"]
