"""``keras.distribution``: set a data-parallel distribution once for a whole script (Keras 3's
``keras.distribution.set_distribution`` / ``distribution()``); every later ``fit``, ``evaluate``
and ``predict`` that is not given ``distribution=`` uses it.

The engine lives above this layer: ``nnmath.distributed.MPIDataParallel`` (run the script with
``mpiexec -n P python train.py``); the contract is :mod:`nnmath.training.distribution`.

>>> from nnmath.keras import distribution
>>> distribution.set_distribution(None)
>>> distribution.distribution() is None
True
"""
from ..training.distribution import Distribution, DistributedError, set_distribution
from ..training.distribution import get_distribution as distribution

__all__ = ["set_distribution", "distribution", "Distribution", "DistributedError"]
