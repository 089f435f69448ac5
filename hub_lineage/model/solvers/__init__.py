"""LRMF solvers: the fast blocked Gauss-Newton solver (with its linear systems and spectral start)
and the plain reference objective it is tested against.
"""
