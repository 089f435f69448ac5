"""LRMF solvers: the fast blocked Gauss-Newton solver and the plain reference objective it is tested
against.
"""
