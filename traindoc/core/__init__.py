"""The leaf at the bottom of traindoc: what every floor means by a metric, a config and a run's status.

``vocabulary`` (canonical metric names, roles, the train/val partner, the training-loss family, which
score is better and ``Monitor``), ``configs`` (dotted config keys) and ``statuses`` (the run statuses).
It imports nothing of ours, so ``runner`` and ``diagnostics`` import it, and only it, from ``traindoc``
(``tests/test_layers.py``). Importing this package loads none of its modules.
"""
