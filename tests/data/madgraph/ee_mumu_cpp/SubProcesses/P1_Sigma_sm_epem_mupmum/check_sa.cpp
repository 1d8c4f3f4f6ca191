//==========================================================================
// nis test fixture in the shape of MadGraph5_aMC@NLO's standalone_cpp output
// (written for nis's tests): the standalone check program. It evaluates the
// matrix elements at one phase-space point (2 -> 2 at sqrt(s) = 500 GeV,
// scattering angle 60 degrees) and prints them.
//==========================================================================

#include <cmath>
#include <iomanip>
#include <iostream>

#include "CPPProcess.h"

int main(int argc, char** argv)
{
  CPPProcess process;
  process.initProc(argc > 1 ? argv[1] : "../../Cards/param_card.dat");
  const double e = 250., c = 0.5, s = std::sqrt(1. - c * c);
  double p[4][4] = {{e, 0., 0., e}, {e, 0., 0., -e}, {e, e * s, 0., e * c}, {e, -e * s, 0., -e * c}};
  vector<double*> momenta;
  for (int i = 0; i < 4; i++)
    momenta.push_back(p[i]);
  process.setMomenta(momenta);
  process.sigmaKin();
  const double* matrix_elements = process.getMatrixElements();
  cout << "Process: " << process.name() << endl;
  for (int i = 0; i < process.nprocesses; i++)
    cout << " Matrix element = " << setprecision(17) << matrix_elements[i] << " GeV^0" << endl;
}
