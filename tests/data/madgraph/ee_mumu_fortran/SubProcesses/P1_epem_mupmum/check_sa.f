      PROGRAM DRIVER
C     nis test fixture in the shape of MadGraph5_aMC@NLO's standalone
C     output (written for nis's tests): the check program. It prints
C     the matrix element at one point (sqrt(s) = 500 GeV, scattering
C     angle 60 degrees).
      IMPLICIT NONE
      REAL*8 ZERO
      PARAMETER (ZERO=0D0)
      INCLUDE 'coupl.inc'
      INCLUDE 'nexternal.inc'
      REAL*8 PMASS(NEXTERNAL)
      REAL*8 P(0:3,NEXTERNAL),MATELEM,E,C,S
      INTEGER I

      CALL SETPARA('../../Cards/param_card.dat')
      INCLUDE 'pmass.inc'
      CALL PRINTOUT()
      E=250D0
      C=0.5D0
      S=SQRT(1D0-C*C)
      DO I=1,NEXTERNAL
        P(0,I)=E
      ENDDO
      P(1,1)=0D0
      P(2,1)=0D0
      P(3,1)=E
      P(1,2)=0D0
      P(2,2)=0D0
      P(3,2)=-E
      P(1,3)=E*S
      P(2,3)=0D0
      P(3,3)=E*C
      P(1,4)=-E*S
      P(2,4)=0D0
      P(3,4)=-E*C
      CALL SMATRIX(P,MATELEM)
      WRITE(*,*) 'Matrix element = ', MATELEM, ' GeV^',-(2*NEXTERNAL-8)
      END
