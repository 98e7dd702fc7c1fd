"""Label models: combine noisy, conflicting LF votes into probabilistic labels.

- :class:`MajorityVote` -- the baseline; ties and all-abstain rows follow the class prior.
- :class:`OnlineLabelModel` -- learns each LF's class-conditional accuracy and the class
  balance from the stream alone, forgets at a half-life, takes late gold labels, merges.

Both take votes keyed by LF id: ``learn_one({id: vote})`` / ``learn_many(L, lf_ids)`` and
``predict_proba_one`` / ``predict_proba_many``. Models are saved with :func:`save_model`
(``.npz`` + JSON header, no pickle); :func:`dumps_model` / :func:`loads_model` do the same
in memory.
"""

from ._base import ABSTAIN, BaseLabelModel
from ._io import (
    FORMAT_VERSION,
    IncompatibleModelError,
    dumps_model,
    load_model,
    loads_model,
    save_model,
)
from ._majority import MajorityVote
from ._online import OnlineLabelModel

__all__ = [
    "ABSTAIN",
    "FORMAT_VERSION",
    "BaseLabelModel",
    "IncompatibleModelError",
    "MajorityVote",
    "OnlineLabelModel",
    "dumps_model",
    "load_model",
    "loads_model",
    "save_model",
]
