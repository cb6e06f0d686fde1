"""Training from the spec: a model's `train` section -> a checked ``TrainPlan`` -> trained weights.

``check`` (with ``bind``, ``fit`` and the registries in ``options``) turns the section into a
``plan.TrainPlan`` when the spec is checked; ``session`` runs it with ``core.loop.Trainer`` and
writes the run folder (``checkpoint``, ``figures``); ``ddp`` scales it out with torchrun; ``emit``
writes it as a standalone script.  ``core`` is torch and the standard library only.
"""
