// nis test fixture in the shape of the MadGraph5_aMC@NLO CUDACPP plugin's
// standalone output (written for nis's tests): the check program. It runs
// the Bridge on neppV copies of one phase-space point (sqrt(s) = 500 GeV,
// scattering angle 60 degrees) and prints |M|^2. Run it from this folder.

#include "Bridge.h"

#include <cmath>
#include <iomanip>
#include <iostream>
#include <vector>

int main()
{
  using namespace mg5amcCpu;
  const unsigned int nevt = mgOnGpu::neppV;
  Bridge<double> bridge( nevt, CPPProcess::npar, CPPProcess::np4 );
  const double e = 250., c = 0.5, s = std::sqrt( 1. - c * c );
  const double point[16] = { e, 0, 0, e, e, 0, 0, -e, e, e * s, 0, e * c, e, -e * s, 0, -e * c };
  std::vector<double> momenta, gs( nevt, 1.2177157847767195 ), rnd( nevt, 0.5 ), mes( nevt );
  std::vector<unsigned int> flavour( nevt, 0 );
  std::vector<int> selhel( nevt ), selcol( nevt );
  for( unsigned int i = 0; i < nevt; i++ ) momenta.insert( momenta.end(), point, point + 16 );
  bridge.cpu_sequence( momenta.data(), gs.data(), flavour.data(), rnd.data(), rnd.data(), nullptr, mes.data(), selhel.data(), selcol.data() );
  std::cout << "Matrix element = " << std::setprecision( 17 ) << mes[0] << " GeV^0" << std::endl;
}
