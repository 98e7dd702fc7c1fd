"""The online label model: streaming moments anchor a one-step Dawid-Skene estimate.

Two sets of decayed, additive sufficient statistics are kept per LF (keyed by LF id):

1. **Moments** (parameter-free): how often each LF votes each class, and how often each
   pair of LFs votes each pair of classes together. Under conditional independence
   ``P(l_i=u, l_j=v) = sum_y pi_y mu_i(u|y) mu_j(v|y)``; a damped alternating
   least-squares fit (warm-started, ridge toward an "accurate LF" prior) recovers the
   class-conditional vote rates ``mu``. No posterior feeds back into these statistics, so
   they cannot collapse and ``learn_many`` equals a ``learn_one`` loop exactly.
2. **Expected counts** (one EM step from the moment fit): each event's posterior under
   ``mu`` is added to ``n[j, y, v]`` (LF j voted v while the class was y) and ``N[j, y]``.
   Prediction uses ``theta = (n + prior) / (N + s)`` and majority vote's class balance
   (the one the fit and the E-step assume, as learned up to now), raised to
   ``prior_weight``, or more, up to 1, where the co-firing of same-class LFs implies the
   same balance. Late gold labels enter these counts as one-hot posteriors.

``theta`` models the firing *and* the vote per class, so unipolar LFs carry their
evidence through class-dependent firing; abstains carry none at prediction (but on a
tie, below), so an all-abstain event gets the prior (as in Snorkel), which is majority
vote's answer for it, and the abstain pattern of many sparse LFs cannot pull every event
into one class. The expected counts' own balance (:attr:`class_balance_`) swings further
on the events that decide it: where most events draw no vote, it put them in the wrong
class on whole streams that majority vote's balance, from the same votes, got right (see
``docs/architecture.md``). Everything decays with a half-life in events, so estimates
follow drifting LFs.

An intensity guard covers the one failure of conditional independence this cannot absorb:
when LFs that vote different classes fire together more often than chance (a per-event
intensity, not the class, makes them fire), each vote's likelihood is divided by its
class's expected number of votes, so how many votes an event drew stops being evidence,
and the moment fit takes every pair moment to be inflated by one fitted factor
(``pair_inflation_``) instead of inventing a class under which every LF fires often (see
``_cofiring``, ``_inflation`` and ``docs/architecture.md``). It is off on streams without
that sign.

Where every LF that voted agrees on one class, the prediction is mixed with that verdict
(``unanimous_weight``, half by default): the model weighs LFs that disagree and settles
ties, but never overrules votes that all agree. The abstain-free form drops the evidence
of the LFs that stayed silent, which on such an event points to the voted class, while the
class balance still pulls away from it; on real keyword LFs, where the estimated balance is
off, that pull overruled lone correct votes (see ``docs/architecture.md``). A strict
majority gets the same mix: the model never overrules a class that has more votes than
any other, and decides where the votes do not (ties), besides giving every event its
probabilities; on real LFs its overrules of majorities lost more than they won. On a tie
it decides among the tied classes only (its posterior restricted to them), so a class
with fewer votes than another is never the label: on real comments with ten classes its
picks of a class no tied LF voted for were right 10 times in 144. There it also reads the
LFs that vote one class and stayed silent (at half weight: a class whose many LFs all
stayed silent is less likely; ``_silence_at``), and where two of the tie's votes are a
pair the moment fit left out as beyond any fit of the model (a ham word inside a spam
phrase), the prior settles it, as majority vote would.

The moment fit is not convex, and a warm start alone stays in the basin of fits made on
fewer events: refits also restart from the prior once the events have doubled (or a
half-life has passed) since the last restart, and keep the fit of the lower objective.
With two classes, pairs of LFs whose co-firing lies on the side of chance no fit of the
model reaches (two same-class rules that never meet; a ham word inside a spam phrase) are
left out of the fit, which would otherwise make one of the two LFs uninformative. So are,
with any number of classes, pairs that read one field (one of the two always votes: the
field read both ways; or one votes only where the other does: two cuts on one side),
which the fit could only explain with LFs that fire on every event of a class. LFs joined
by such pairs are one view of the event: every pair within it is left out of the fit, and
its votes on an event count once (their geometric mean) in the E-step and at prediction,
so a field cut several ways is not counted once per cut. A view whose votes go with no
other view's more or less often than chance tells nothing of the class; with fewer than
three views that do, the votes identify no LF's rates, and ties are settled by the prior,
as majority vote settles them.

A prediction reads each LF's table pooled with those of the other LFs that cast the same
vote: on a sparse stream a few soft counts cannot tell a 2-times lift from a 20-times one,
and the spread of the estimates is then mostly noise that decides ties at random. An
empirical-Bayes shrinkage (``_pool_evidence``) moves each table toward its vote's shared
shape by as much as its counts' variance exceeds the spread between the LFs that the
counts do explain; with plenty of events the tables stand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._base import BaseLabelModel, as_vote_matrix, class_shares

__all__ = ["OnlineLabelModel"]

_F = NDArray[np.float64]
# The silences of one set of present LFs: their sum, per group (view or LF), each LF's group.
_Quiet = tuple[list[float], dict[int, list[float]], dict[str, int]]
# Keep the lazily inflated statistics far from float overflow.
_MAX_SCALE = 1e120
_EPS = 1e-6


_NONE: frozenset[int] = frozenset()

# The intensity guard (see ``_cofiring``): LFs that vote different classes firing together
# more often than chance (ratio 1) reveal a per-event firing intensity; its weight grows
# from 0 at a ratio of 1.03 to full at 1.13. The margin above 1 is for LFs worse than
# chance, which co-fire with the other class's LFs without any intensity (keyword LFs
# chosen on one video, on another: 1.03); past it the guard is soon whole, since a
# partial one keeps much of the bias it is there to remove (a binary stream at 1.14:
# 0.80 at weight 0.58, 0.93 at 1, majority vote 0.93).
_COFIRE_FREE = 1.03
_COFIRE_SPAN = 0.10
# Bound of the pair-moment inflation the guarded moment fit may assume (a gamma intensity
# of variance 3 gives 4); it keeps a fit on a handful of pairs from explaining everything
# as intensity.
_MAX_INFLATION = 50.0
# A pair of LFs is left out of the moment fit when its co-firing lies this many standard
# deviations (Poisson, in decayed events) on the side of chance no fit can reach, and, for
# LFs voting different classes, at least ``_UNEXPLAINED_LIFT`` times chance (below that,
# a per-event intensity the guard missed explains it as well; see ``_unexplained``).
_UNEXPLAINED_Z = 3.0
_UNEXPLAINED_LIFT = 1.5
# A pair of LFs of which one always votes (one field read both ways: ``amount <= t`` votes
# one class, ``amount > t`` another) or one votes only where the other does (two cuts on
# one side of a field, a phrase inside a word) reads one field, not two views of the class
# (see ``_one_field``). Such a pair is found where chance gives at least ``lam`` events of
# the kind that never came (fewer than ``_ONE_FIELD_SLACK``); a zero count is then unlikely
# by chance even once among the m (m - 1) ordered pairs: ``exp(-lam) <= _ONE_FIELD_ALPHA
# / (m (m - 1))``, and ``lam >= _ONE_FIELD_MIN``.
_ONE_FIELD_MIN = 5.0
_ONE_FIELD_ALPHA = 0.01
_ONE_FIELD_SLACK = 0.5
# A latent class model needs three conditionally independent views of each event, each
# telling something of the class, for its class-conditional rates to be identified
# (Kruskal 1977; Allman, Matias and Rhodes 2009): from two, any rates that reproduce their
# joint table fit equally well. With fewer such views (``views_``) the fit's answer on a
# tie is the ridge's, not the data's.
_MIN_VIEWS = 3
# A restart's fit replaces the warm start's only when its objective is lower by this share:
# a near-tie keeps the basin the expected counts were gathered under (switching between
# near-equal fits cost one 10-class generated stream 9 points).
_RESTART_GAIN = 0.01
# The balances the moment fit can assume (``balance``); with "cofiring", pseudo-events of
# chance co-firing per class keep a class whose LFs seldom meet near a lift of 1.
_BALANCES = ("majority", "cofiring")
#: Pairs of co-cast votes indexed at once when adding the pair moments: a dense LF set
#: (300 LFs each voting on half the events) casts ~22,000 pairs per event, and the index
#: arrays of one refit interval of such events took 4.4 GB; groups of rows up to this many
#: pairs keep it near 200 MB and cost nothing on sparse sets (one group).
_PAIR_CHUNK = 1 << 22
_COFIRING_PSEUDO = 10.0
# The prior's weight rises from ``prior_weight`` to 1 as majority vote's balance and the
# co-firing balance agree (``balance_agreement_``): whole at the same shares, none from
# this total variation distance up. The two go wrong in unlike ways (the first counts the
# classes that draw votes, the second the lift of same-class pairs), so where they agree
# the balance is likelier right (not always: on WRENCH youtube both lean ham) and the
# posterior's own weight, 1, makes the fewest errors; where they part, the half weight
# hedges (see ``docs/architecture.md``, "When the two balances agree").
_AGREE_SPAN = 0.05
# Pooled evidence (see ``_pool_evidence``): the LFs that cast one vote share, at
# prediction, the part of their tables the counts cannot tell apart (an empirical-Bayes
# estimate of the spread between them, DerSimonian and Laird 1986), which needs two
# degrees of freedom, three LFs. The pool is recomputed every ``_POOL_EVERY`` events (at
# least 8 times per half-life): with 160 LFs and 10 classes that takes 0.8 ms, about as
# long as learning 18 events one at a time, and recomputing it every 64 events read within
# 0.12 points of this on every benchmark set (scratch).
_POOL_MIN = 3
_POOL_EVERY = 256
# The silences at a tie (see ``_silence_at``): the LFs that vote one class and stayed silent
# say which tied class drew fewer votes than it would have, as their votes say which drew
# more; but each silence leans on conditional independence as no vote does (a spam
# template that trips one keyword trips few others, whatever the keywords' rates over all
# spam), so they count at half weight, as the balance does (``prior_weight``). At full
# weight they read better on every generated and real-comment set we have but WRENCH
# youtube, where two of its 26 test ties turn (0.840 -> 0.832; ``docs/architecture.md``).
_SILENCE_WEIGHT = 0.5


class _MomentProblem(NamedTuple):
    """The least-squares problem of one moment fit, LFs in canonical order."""

    Ow: _F  # (a, a) pair moments Ohat (normalised by co-presence) times the pair weights,
    # on the ``a`` (LF, vote) codes ever cast (the rows and columns of the others are zero)
    act: NDArray[np.intp]  # (a,) those codes, ``j * k + v``
    w: _F  # (m, m) pair weights (0 on the diagonal and for pairs left out)
    const: float  # sum_ij w_ij |Ohat_ij|^2: the objective's constant, for fits of other c
    wf: _F  # (m,) weights of the first moments
    rates: _F  # (m, v) vote rates
    pi: _F  # (y,) the class balance the fit assumes
    mu0: _F  # (m, v, y) the prior table: the ridge's target
    ridge: float
    rw: _F  # (y,) per-class scale of the ridge
    guard: float  # weight of the intensity guard


class _PairCounts(NamedTuple):
    """The pair moments in canonical LF order, read once per fit.

    The intensity guard, the pair test and the moment fit all read them.
    """

    votes: _F  # (a, a) decayed pair vote counts of the codes ever cast (others are zero)
    act: NDArray[np.intp]  # (a,) those codes, ``j * k + v`` (j the LF's place in the order)
    tt: _F  # (m, m) decayed co-presence
    agree: _F  # (m, m) co-firings voting the same class
    disagree: _F  # (m, m) co-firings voting different classes
    e_agree: _F  # (m, m) the same-class co-firings chance gives (independent LFs)
    chance: _F  # (m, m) the different-class co-firings chance gives
    fire: _F  # (m,) each LF's firing rate over the events it was present for


def _softmax(ll: _F) -> _F:
    ll = ll - ll.max(axis=1, keepdims=True)
    p = np.exp(ll)
    return np.asarray(p / p.sum(axis=1, keepdims=True))


def _lf_name(lf_id: str) -> str:
    return lf_id.rsplit("@", 1)[0]


class OnlineLabelModel(BaseLabelModel):
    """Online label model for any cardinality, with abstains, forgetting and late gold.

    Parameters
    ----------
    cardinality
        Number of classes k >= 2.
    half_life
        Events after which a statistic's weight halves; None keeps everything.
    prior_accuracy
        Accuracy assumed for an LF before evidence (breaks the label-swap symmetry).
    prior_strength
        Ridge weight pulling the moment fit toward that prior; larger = more like
        (weighted) majority vote.
    prior_events
        Pseudo-events of the prior in the expected counts (smooths rare LFs).
    refit_every
        The moment fit is refreshed at 64, 128, 256, ... events, then every
        ``refit_every`` events.
    gold_weight
        Weight of one late gold label relative to one unlabeled event.
    prior_weight
        Exponent of the class balance in the posterior (see :attr:`prior_`): 1 weighs the
        balance in full (fewest errors when the model is right), 0 not at all (every
        class alike); 0.5 halves the log prior odds, which keeps a skewed stream's rare
        class (see ``docs/architecture.md``). An event without votes gets the balance's
        most likely class at any weight above 0. The least weight: it rises toward 1 as
        the balance is confirmed (:attr:`balance_agreement_`).
    unanimous_weight
        On an event where one class c has more votes (of LFs the model knows) than any
        other, unanimous or not, the posterior is ``(1 - u) p + u e_c``: the model's ``p``
        mixed with majority vote's verdict. From 0.5 up, c is always the predicted class
        (majority vote's answer there) and the confidence in it at least ``u``; 0 is the
        model alone. Above 0, a tie is the model's among the tied classes (its posterior
        restricted to them, with the silences of the LFs that vote one class read too),
        or the prior's where two of its votes are a pair of LFs no fit of the model
        explains; an event without votes gets :attr:`prior_`, majority vote's class by
        default. A prediction setting: the statistics, learning and ``merge`` do
        not depend on it.
    balance
        The class balance the moment fit assumes. ``"majority"`` (default): majority
        vote's, the share of each class among the events with a strict majority.
        ``"cofiring"``: at each refit the fit also runs at the balance that same-class
        co-firing implies (``P(l_i = c, l_j = c) / (P(l_i = c) P(l_j = c))`` is ``1 /
        pi_c`` for LFs that vote c only on class c) and keeps whichever fit explains the
        moments better. For LF sets whose LFs fire on their own class (rules, keywords)
        and a rare class most events draw no vote for: there majority vote's balance
        counts mostly the rare class, and every event without votes gets it. Wrong where
        LFs fire regardless of the class, and where they also fire on a few percent of
        the common class (amount or velocity thresholds: 0.23-0.41 fraud for 0.06 on
        ``make_fraud_stream``), though the fit then explains the moments better still
        (see ``docs/architecture.md``). Costs a second fit at every refit. Or ``k``
        positive class shares (normalised), a balance you know (a fraud rate from the
        chargebacks, say): the fit, the E-step and the prior then assume it, and every
        event without votes gets its most likely class. Given the true balance, every
        bench set but one reads better on average than with majority vote's (from +0.2
        to +38 points against majority vote; ``prior_weight=1`` reads best with it), and
        level with or above majority vote told the same balance; on keyword spam, a
        near-even fold whose events without votes are mostly ham loses 20 points, as they
        all get spam (see ``docs/architecture.md``).

    Attributes
    ----------
    cofiring_ratio_ : float
        At the latest fit: how often LFs voting different classes fire on the same event,
        relative to chance (below 1 when they are independent given the class).
    intensity_weight_ : float
        Weight of the intensity guard in [0, 1]: 0 up to a co-firing ratio of 1.03, full
        from 1.13.
    pair_inflation_ : float
        At the latest fit: how many times more often pairs of LFs fire together than
        conditional independence given the class allows, as fitted with the moments
        (``E[s^2] / E[s]^2`` of a per-event intensity ``s``); 1 while the guard is off.
    unexplained_pairs_ : int
        At the latest fit: pairs of LFs left out of it because their co-firing lies on
        the side of chance no fit of the model reaches (two classes only), or because the
        two lie in one view (see ``views_``).
    views_ : int
        At the latest fit: how many informative views of the event its LFs give. LFs that
        read one field (one always votes, or one votes only where the other does, and the
        LFs such pairs join) are one view, whose votes on an event count once, and a view
        is informative when its votes go with another view's more often or less often
        than chance. With fewer than three the votes do not identify the LFs' rates, and
        ties are settled as majority vote settles them (see ``docs/architecture.md``).
    balance_agreement_ : float
        At the latest fit: how far majority vote's balance and the balance same-class
        co-firing implies (see ``balance``) agree, in [0, 1]: 1 at the same shares, 0 when
        their total variation distance is 0.05 or more, and 0 with a balance given. It
        raises the prior's weight from ``prior_weight`` toward 1 (:attr:`prior_`): the
        two estimates go wrong in unlike ways, so where they agree the balance is likely
        right, and a rare class's lone votes need no hedge against it.
    balance_source_ : str
        The balance the latest fit kept: ``"majority"``, ``"cofiring"`` or, with class
        shares for ``balance``, ``"given"``.

    Examples
    --------
    >>> from streamlabel.datasets import make_bipolar_stream
    >>> stream = make_bipolar_stream(5000, 3, 6, seed=0)
    >>> model = OnlineLabelModel(cardinality=3)
    >>> for start in range(0, 5000, 500):  # one pass, in order, no gold
    ...     model.learn_many(stream.L[start : start + 500], stream.lf_ids)
    >>> est = model.lf_accuracies()
    >>> [round(est[i], 2) for i in stream.lf_ids]
    [0.74, 0.75, 0.74, 0.67, 0.72, 0.68]
    >>> stream.accuracies.round(2).tolist()  # the truth, for comparison
    [0.79, 0.76, 0.72, 0.66, 0.72, 0.65]
    >>> model.predict_proba_one({"lf000@1": 2, "lf001@1": 2, "lf002@1": -1}).argmax()
    np.int64(2)

    Majority vote's balance and the co-firing balance nearly agree here (both near even),
    so a prediction weighs the balance at nearly 1:

    >>> round(model.balance_agreement_, 2)
    0.88

    A balance you know (here 6% fraud) replaces majority vote's estimate:

    >>> fraud = OnlineLabelModel(2, balance=[0.94, 0.06], prior_weight=1.0)
    >>> fraud.prior_.round(2).tolist(), fraud.balance_source_
    ([0.94, 0.06], 'given')
    """

    #: Settings that change predictions only, never the statistics: a worker gives its own
    #: to a model it restores or receives merged (see ``Labeler.use_params``).
    prediction_settings: ClassVar[tuple[str, ...]] = ("prior_weight", "unanimous_weight")

    def __init__(
        self,
        cardinality: int,
        *,
        half_life: float | None = 50_000.0,
        prior_accuracy: float = 0.7,
        prior_strength: float = 0.03,
        prior_events: float = 20.0,
        refit_every: int = 4096,
        gold_weight: float = 1.0,
        prior_weight: float = 0.5,
        unanimous_weight: float = 0.5,
        balance: Literal["majority", "cofiring"] | Sequence[float] = "majority",
    ) -> None:
        self.cardinality = cardinality
        self.half_life = half_life
        self.prior_accuracy = prior_accuracy
        self.prior_strength = prior_strength
        self.prior_events = prior_events
        self.refit_every = refit_every
        self.gold_weight = gold_weight
        self.prior_weight = prior_weight
        self.unanimous_weight = unanimous_weight
        self.balance = balance

    # ------------------------------------------------------------------ settings / state
    def _settings(self) -> dict[str, Any]:
        return {
            "cardinality": self.cardinality,
            "half_life": self.half_life,
            "prior_accuracy": self.prior_accuracy,
            "prior_strength": self.prior_strength,
            "prior_events": self.prior_events,
            "refit_every": self.refit_every,
            "gold_weight": self.gold_weight,
            "prior_weight": self.prior_weight,
            "unanimous_weight": self.unanimous_weight,
            "balance": (
                self.balance if isinstance(self.balance, str) else [float(x) for x in self.balance]
            ),
        }

    def _check_settings(self) -> None:
        k = self.cardinality
        if not isinstance(k, int | np.integer) or k < 2:
            raise ValueError(f"cardinality must be an int >= 2; got {k!r}")
        if self.half_life is not None and not (1 <= self.half_life < math.inf):
            raise ValueError(f"half_life must be >= 1 event or None; got {self.half_life!r}")
        if not 1.0 / k < self.prior_accuracy < 1.0:
            raise ValueError(
                f"prior_accuracy must lie in (1/k, 1) = ({1 / k:.3f}, 1); got {self.prior_accuracy}"
            )
        # Written so that NaN fails every check.
        if not (
            0 <= self.prior_strength < math.inf
            and 0 < self.prior_events < math.inf
            and 0 < self.gold_weight < math.inf
        ):
            raise ValueError(
                "prior_strength must be >= 0, prior_events and gold_weight > 0 (all finite); "
                f"got {self.prior_strength!r}, {self.prior_events!r}, {self.gold_weight!r}"
            )
        if not 0.0 <= self.prior_weight <= 1.0:
            raise ValueError(f"prior_weight must lie in [0, 1]; got {self.prior_weight!r}")
        if not 0.0 <= self.unanimous_weight <= 1.0:
            raise ValueError(f"unanimous_weight must lie in [0, 1]; got {self.unanimous_weight!r}")
        if self.refit_every < 1:
            raise ValueError(f"refit_every must be >= 1; got {self.refit_every}")
        known = isinstance(self.balance, str) and self.balance in _BALANCES
        if not known and class_shares(self.balance, k) is None:
            raise ValueError(
                f"balance must be one of {_BALANCES} or {k} positive, finite class shares; "
                f"got {self.balance!r}"
            )

    def _init_state(self) -> None:
        self._check_settings()
        k = self.cardinality
        self.lf_ids_: list[str] = []
        self._index: dict[str, int] = {}
        self._gamma = 1.0 if self.half_life is None else 0.5 ** (1.0 / self.half_life)
        self._pool_every = _POOL_EVERY  # events between pools (``_pool_evidence``)
        if self.half_life is not None:
            self._pool_every = min(_POOL_EVERY, max(16, int(self.half_life / 8)))
        # Moments are stored multiplied by ``_scale`` (= gamma ** -events) and expected
        # counts by ``_scale ** 2`` (they forget twice as fast: they are built from
        # posteriors of a fit that already lags by the moments' memory), so that
        # one event touches only the LFs that voted; see ``_renormalize``.
        self._scale = 1.0
        self.n_events_ = 0  # undecayed count of events learned (drives the refit schedule)
        self.n_fits_ = 0  # completed moment fits
        self._last_restart = 0  # ``n_events_`` at the latest fit started from the prior
        self._revision = 0  # every change of the statistics (learn, gold, LFs in or out)
        self._t = 0.0  # decayed number of events
        self._T = np.zeros(0)  # (m,) decayed events each LF was present for
        self._Fv = np.zeros((0, k))  # (m, k) decayed vote counts
        self._TT = np.zeros((0, 0))  # (m, m) decayed co-presence
        self._O = np.zeros((0, 0))  # (m*k, m*k) decayed pair vote counts
        self._n = np.zeros((0, k, k))  # (m, v, y) expected vote counts per class
        self._N = np.zeros((0, k))  # (m, y) expected class counts while the LF was present
        self._logmu = np.zeros((0, k))  # (m*k, y) log of ``_mu``, for the E-step
        self._logmu_rows: list[list[float]] = []
        self._log_silent = np.zeros((0, k))
        self._fire_fit = np.zeros((0, k))  # (m, y) P(LF j votes | y) of ``_mu``
        # (m, y) P(LF j votes | y) of the prediction tables, frozen at each refit, and the
        # weight of the intensity guard (see ``_cofiring``).
        self._fire = np.zeros((0, k))
        self.cofiring_ratio_ = 0.0
        self.intensity_weight_ = 0.0
        self.pair_inflation_ = 1.0
        self.unexplained_pairs_ = 0
        self.views_ = 0
        self.balance_agreement_ = 0.0
        self._set_view(np.zeros(0, dtype=np.int64))
        # A balance the user gives (``balance`` as class shares) replaces majority vote's
        # wherever the model reads one: the fit, the E-step and the prior.
        self._given = None if isinstance(self.balance, str) else class_shares(self.balance, k)
        self.balance_source_ = "majority" if self._given is None else "given"
        self._norm_cache: dict[tuple[str, ...], list[float]] = {}
        self._pend_norm: list[float] = [0.0] * k
        self._C = np.zeros(k)  # (y,) expected class counts
        # (y,) decayed counts of the events whose votes have a strict majority for y: the
        # balance the moment fit assumes (see ``_fit_balance``).
        self._V = np.zeros(k)
        self._pi_fit = np.full(k, 1.0 / k)  # the balance of the latest fit (and its prior)
        self._mu = np.zeros((0, k, k))  # (m, v, y) fitted P(l_j = v | y), the E-step model
        self._next_refit = 64
        # The prior of the expected counts (see ``_prior_table``), frozen with each fit so
        # a prediction reads fixed numbers; (m, v, y) and its list mirror.
        self._pri = np.zeros((0, k, k))
        self._pri_rows: list[list[float]] = []
        # The pooled evidence (see ``_pool_evidence``): which (LF, vote) rows are pooled,
        # (m, v), and their log tables as of the latest pool, (m, v, y); nothing is pooled
        # before the first pool is due.
        self._set_pool(np.zeros((0, k), dtype=bool), np.zeros((0, k, k)), np.zeros((0, k)))
        # Pairs of LFs whose co-firing no fit of the model explains (``_unexplained``, not
        # counting pairs within one view), in columns, (m, m); as of the latest fit.
        self._set_beyond(np.zeros((0, 0), dtype=bool))
        # learn_one defers the per-LF presence updates while the set of present LFs stays
        # the same (the usual case), so one event touches only the LFs that voted.
        self._pend_key: tuple[str, ...] | None = None
        self._pend_cols = np.zeros(0, dtype=np.int64)
        self._pend_base: list[int] = []
        self._pend_set: frozenset[int] = frozenset()
        self._pend_w = 0.0
        self._pend_pw = [0.0] * k
        # Events recorded by learn_one since the last flush, flat: their fired codes, the
        # number of codes per event, their weighted posteriors (k per event), weights.
        self._pend_codes: list[int] = []
        self._pend_lens: list[int] = []
        self._pend_post: list[float] = []
        self._pend_ws: list[float] = []
        self._mirror_dirty = False
        self._sync()
        self._set_fit(self._mu)
        self._freeze_balance()

    def _ensure_state(self) -> None:
        if not hasattr(self, "_index"):
            self._init_state()

    def _flush(self) -> None:
        """Apply to the arrays what ``learn_one`` recorded since the last flush.

        ``learn_one`` keeps the per-event work to a few float additions on list mirrors of
        the statistics that prediction reads, and records the event; the arrays (and the
        pair moments, read only by the fit) are brought up to date here, vectorised.
        """
        flushed = bool(self._pend_lens or self._pend_w)
        if self._pend_lens:
            k = self.cardinality
            dim = self._O.shape[0]
            codes = np.array(self._pend_codes, dtype=np.int64)
            lens = np.array(self._pend_lens, dtype=np.int64)
            pw = np.array(self._pend_post, dtype=np.float64).reshape(-1, k)
            w = np.array(self._pend_ws, dtype=np.float64)
            self._pend_codes, self._pend_lens, self._pend_post, self._pend_ws = [], [], [], []
            ev = np.repeat(np.arange(len(lens)), lens)
            n_flat = self._n.reshape(dim, k)
            for y in range(k):
                n_flat[:, y] += np.bincount(codes, weights=pw[ev, y], minlength=dim)
            self._Fv.reshape(-1)[:] += np.bincount(codes, weights=w[ev], minlength=dim)
            self._add_pairs(ev, codes, w, dim)  # all pairs within each event, diagonal included
        if self._pend_w:
            cols = self._pend_cols
            pw_sum = np.array(self._pend_pw)
            self._T[cols] += self._pend_w
            self._TT[np.ix_(cols, cols)] += self._pend_w
            self._N[cols] += pw_sum[None, :]
            self._C += pw_sum
            self._pend_w = 0.0
            self._pend_pw = [0.0] * self.cardinality
        if flushed or self._mirror_dirty:
            self._sync()

    def _sync(self) -> None:
        """Rebuild the list mirrors the per-event paths read, from the arrays."""
        k = self.cardinality
        self._N_list = self._N.tolist()
        self._n_list = self._n.reshape(-1, k).tolist()
        self._mirror_dirty = False

    @property
    def version_(self) -> str:
        """Version of the parameters: ``"<moment fits>.<revision>"``.

        The revision counts every change of the statistics (events learned, gold labels,
        LFs added or retired), so a label that names it names the parameters behind it.
        """
        self._ensure_state()
        return f"{self.n_fits_}.{self._revision}"

    @property
    def n_lfs_(self) -> int:
        """Number of LFs the model currently holds parameters for."""
        self._ensure_state()
        return len(self.lf_ids_)

    # ------------------------------------------------------------------ LF registry
    def add_lf(self, lf_id: str, *, predecessor: str | None = None, inherit: bool = True) -> None:
        """Start tracking ``lf_id``, from ``predecessor``'s estimate or from the prior.

        ``learn_*`` calls this for unseen ids; a new ``name@version`` of an LF the model
        already tracks inherits that LF's estimate (``predecessor`` overrides the choice;
        ``inherit=False`` starts it at the prior). The inherited statistics (expected counts
        and vote rates) are capped at ``10 * prior_events`` events so the new version
        re-learns quickly; its pair moments start empty.
        """
        self._ensure_state()
        if predecessor is not None and predecessor not in self._index:
            raise KeyError(f"unknown predecessor LF {predecessor!r}")
        if not inherit and predecessor is not None:
            raise ValueError("predecessor and inherit=False contradict each other")
        self._add_lfs([lf_id], {lf_id: predecessor} if predecessor else {}, inherit=inherit)

    def _add_lfs(
        self, new_ids: Sequence[str], predecessors: Mapping[str, str], *, inherit: bool = True
    ) -> None:
        new_ids = [i for i in dict.fromkeys(new_ids) if i not in self._index]
        if not new_ids:
            return
        self._flush()
        self._pend_key = None
        k = self.cardinality
        m, a = len(self.lf_ids_), len(new_ids)
        pred: list[int | None] = []
        for lf_id in new_ids:
            p = predecessors.get(lf_id)
            if p is None and inherit:
                same = [i for i in self.lf_ids_ if _lf_name(i) == _lf_name(lf_id)]
                p = same[-1] if same else None
            pred.append(self._index[p] if p is not None else None)
        for lf_id in new_ids:
            self._index[lf_id] = len(self.lf_ids_)
            self.lf_ids_.append(lf_id)

        def grow(arr: _F, axes: tuple[int, ...], step: int) -> _F:
            shape = list(arr.shape)
            for ax in axes:
                shape[ax] += a * step
            out = np.zeros(shape)
            out[tuple(slice(0, d) for d in arr.shape)] = arr
            return out

        self._T = grow(self._T, (0,), 1)
        self._Fv = grow(self._Fv, (0,), 1)
        self._TT = grow(self._TT, (0, 1), 1)
        self._O = grow(self._O, (0, 1), k)
        self._n = grow(self._n, (0,), 1)
        self._N = grow(self._N, (0,), 1)
        self._mu = grow(self._mu, (0,), 1)
        for c, src in enumerate(pred):
            j = m + c
            if src is None:
                continue
            shrink, shrink_m = self._caps(src)
            self._n[j] = self._n[src] * shrink
            self._N[j] = self._N[src] * shrink
            # The vote rates too: the prior of the expected counts is built from them.
            self._T[j] = self._T[src] * shrink_m
            self._Fv[j] = self._Fv[src] * shrink_m
            self._mu[j] = self._mu[src]
        fresh = np.array([m + c for c, src in enumerate(pred) if src is None], dtype=np.int64)
        if len(fresh):
            self._mu[fresh] = self._prior_table(fresh)
        self._set_fit(self._mu)
        new = np.arange(m, m + a)
        self._set_prior(np.concatenate([self._pri, self._prior_table(new)]))
        self._set_fire(np.concatenate([self._fire, self._firing(new)]))
        self._set_view(np.concatenate([self._view, new]))  # each a view of its own
        # A new LF is pooled from the next pool on; until then it predicts with its own table.
        self._set_pool(
            np.concatenate([self._pooled, np.zeros((a, k), dtype=bool)]),
            np.concatenate([self._pool_log, np.zeros((a, k, k))]),
            np.concatenate([self._silence, np.zeros((a, k))]),
        )
        beyond = np.zeros((m + a, m + a), dtype=bool)
        beyond[:m, :m] = self._beyond
        self._set_beyond(beyond)
        self._sync()
        self._revision += 1

    def _known_column(self, lf_id: str) -> int:
        """Column of a known LF, with pending ``learn_one`` work applied (KeyError if not)."""
        self._ensure_state()
        if lf_id not in self._index:
            raise KeyError(f"unknown LF {lf_id!r}")
        self._flush()
        self._pend_key = None
        return self._index[lf_id]

    def _caps(self, j: int) -> tuple[float, float]:
        """Factors capping LF ``j``'s evidence at ``10 * prior_events`` events.

        The first scales its expected counts, the second its moments (vote rates, presence,
        pairs): a new version of an LF inherits that much, and ``forget_lf`` keeps it.
        """
        cap = 10.0 * self.prior_events * self._scale**2
        total = self._N[j].sum()
        present = self._T[j]
        return (
            min(1.0, cap / total) if total > 0 else 0.0,
            min(1.0, cap / self._scale / present) if present > 0 else 0.0,
        )

    def retire_lf(self, lf_id: str) -> None:
        """Forget ``lf_id`` and its statistics (after its LF set version is gone)."""
        j = self._known_column(lf_id)
        k = self.cardinality
        keep = np.array([i for i in range(len(self.lf_ids_)) if i != j], dtype=np.int64)
        keep_v = (keep[:, None] * k + np.arange(k)[None, :]).ravel()
        self._T = self._T[keep]
        self._Fv = self._Fv[keep]
        self._TT = self._TT[np.ix_(keep, keep)]
        self._O = self._O[np.ix_(keep_v, keep_v)]
        self._n = self._n[keep]
        self._N = self._N[keep]
        self._set_fit(self._mu[keep])
        self._set_prior(self._pri[keep])
        self._set_fire(self._fire[keep])
        # Relabel each view by its first remaining LF's new column.
        first: dict[int, int] = {}
        view = self._view[keep]
        self._set_view(np.array([first.setdefault(v, c) for c, v in enumerate(view.tolist())]))
        self._set_pool(self._pooled[keep], self._pool_log[keep], self._silence[keep])
        self._set_beyond(self._beyond[np.ix_(keep, keep)])
        self._sync()
        self._revision += 1
        del self.lf_ids_[j]
        self._index = {i: c for c, i in enumerate(self.lf_ids_)}

    def forget_lf(self, lf_id: str) -> None:
        """Cap ``lf_id``'s evidence as a new version of it would be capped (a change in it).

        After a drift monitor saw this LF change (its coverage, or its agreement with the
        labels), what the model learned about it describes an LF that is gone, and the
        half-life would take that long again to wash it out. Its expected counts, vote
        rates, presence and pair moments are scaled down to at most ``10 * prior_events``
        events (the means they estimate stay, only their weight drops), and the moment
        fit is redone within 256 events, so the estimate follows what comes next (and its
        pooled table, if its vote is pooled, at the next pool, also within 256 events). The
        other LFs and the class balance are untouched.

        Examples
        --------
        >>> import numpy as np
        >>> model = OnlineLabelModel(2, half_life=None)
        >>> L = np.array([[1, 1, 0]] * 900 + [[0, 0, 0]] * 900 + [[1, 0, -1]] * 200)
        >>> model.learn_many(L, ["a@1", "b@1", "c@1"])
        >>> model.forget_lf("c@1")
        >>> float(model.sufficient_statistics()["T"][2])  # events c@1 was present for
        200.0
        """
        j = self._known_column(lf_id)
        k = self.cardinality
        shrink, shrink_m = self._caps(j)
        self._n[j] *= shrink
        self._N[j] *= shrink
        self._T[j] *= shrink_m
        self._Fv[j] *= shrink_m
        # Co-presence and pair counts: the LF's row and column once (its own entry too, as
        # it stands for its presence), so pair means keep their values at a lower weight.
        self._TT[j, :] *= shrink_m
        self._TT[:, j] *= shrink_m
        self._TT[j, j] /= shrink_m if shrink_m > 0 else 1.0
        vs = slice(j * k, (j + 1) * k)
        self._O[vs, :] *= shrink_m
        self._O[:, vs] *= shrink_m
        self._O[vs, vs] /= shrink_m if shrink_m > 0 else 1.0
        self._next_refit = min(self._next_refit, self.n_events_ + 256)
        self._sync()
        self._revision += 1

    def _columns(self, lf_ids: Sequence[str]) -> NDArray[np.int64]:
        self._add_lfs([i for i in lf_ids if i not in self._index], {})
        return np.fromiter((self._index[i] for i in lf_ids), dtype=np.int64, count=len(lf_ids))

    # ------------------------------------------------------------------ priors
    def _conf(self, pi: _F) -> _F:
        """``P(l = v | y, l fires) / P(l = v | l fires)`` of the prior LF, shape (v, y).

        The prior LF has accuracy ``prior_accuracy`` under a uniform balance (a vote for v
        is ``a (k - 1) / (1 - a)`` times likelier when the class is v than when it is
        not); that likelihood ratio is kept at the balance ``pi``, and each row is
        normalised so the LF keeps its observed vote rate: ``sum_y pi_y conf[v, y] = 1``.
        """
        k = self.cardinality
        a = self.prior_accuracy
        conf = np.ones((k, k))
        np.fill_diagonal(conf, a * (k - 1) / (1.0 - a))
        return np.asarray(conf / (conf @ pi)[:, None])

    def _prior_table(self, cols: NDArray[np.int64]) -> _F:
        """Prior P(l_j = v | y) of each LF in ``cols``, shape (m, v, y).

        An LF of accuracy ``prior_accuracy`` (see ``_conf``) whose votes keep their observed
        rates under the balance of the latest fit; capped so that P(fire | y) < 1.
        """
        k = self.cardinality
        t = self._T[cols][:, None] + self._scale
        rates = (self._Fv[cols] + 0.5 / k * self._scale) / t  # (m, v)
        pri = rates[:, :, None] * self._conf(self._pi_fit)[None]  # (m, v, y)
        norm = np.maximum(pri.sum(axis=1, keepdims=True) / 0.999, 1.0)
        return np.asarray(pri / norm)

    # ------------------------------------------------------------------ moment fit
    def _fit_balance(self) -> _F:
        """Return the class balance the moment fit assumes, majority vote's, shape (k,).

        The share of each class among the events with a strict majority (decayed, plus
        one pseudo-event per class), as :class:`MajorityVote` learns its prior. The
        balance is poorly identified from pair moments when LFs are sparse and one-class,
        and a uniform one is wrong on skewed classes in a way the fit cannot absorb: an
        LF that fires on 60% of all events must then fire on a fifth of the events of the
        other class, so a 6%-fraud stream came out 45% fraud. The expected counts
        estimate the balance the model predicts with afterwards. Class shares given as
        ``balance`` replace it.
        """
        if self._given is not None:
            return self._given.copy()
        v = self._V / self._scale + 1.0
        return np.asarray(v / v.sum())

    def _fit_moments(self, iters: int = 30) -> None:
        """Fit ``mu`` to the first and pair moments (damped Jacobi ALS).

        The class balance is that of ``_fit_balance``. With the intensity guard on, the
        pair moments are modelled as ``c`` times those of conditional independence, ``c``
        (:attr:`pair_inflation_`) fitted in the same sweeps: a per-event intensity ``s``
        (mean 1) multiplies every pair's co-firing by ``E[s^2]``, and a fit without ``c``
        explains that excess with classes under which every LF fires often. Pairs no fit
        of the model can explain are left out (``_unexplained``). A refit may run twice,
        from the previous fit and from the prior, and keeps the restart's fit when its
        least-squares objective is lower by at least ``_RESTART_GAIN``: a warm start alone
        stays in the basin of fits made on earlier, fewer events (or before the guard
        switched on) after the statistics have left it. The restart runs once the events
        have doubled, or a half-life has passed, since the last one: early refits all
        restart, and a long stream pays for a second fit on a few refits only. With
        ``balance="cofiring"`` the fit (and its restart) runs again at the balance of
        ``_cofiring_balance`` and the one with the lower objective is kept, its balance
        with it.
        """
        self._flush()
        m = len(self.lf_ids_)
        k = self.cardinality
        self._pi_fit = self._fit_balance()
        # Fit in a canonical LF order (sorted ids): the same statistics in another column
        # order then give the same fit to the bit, even where the solve is ill-conditioned
        # (classes no LF has voted yet are interchangeable).
        order = self._canonical_order()
        counts = self._pair_counts(order)
        # The guard reads the moments only, so it is measured before the fit it steers.
        self.cofiring_ratio_ = self._cofiring(counts)
        ratio = (self.cofiring_ratio_ - _COFIRE_FREE) / _COFIRE_SPAN
        self.intensity_weight_ = float(min(1.0, max(0.0, ratio)))
        if m == 0:
            self._set_fit(np.zeros((0, k, k)))
            return
        cols = np.arange(m)
        pri = self._prior_table(cols)  # (m, v, y): the ridge target, then frozen below
        mu = np.where(self._mu > 0, self._mu, pri)
        if iters:
            view = self._join(self._one_field(counts))  # in ``order``
            one_view = view[:, None] == view[None, :]
            unexplained = self._unexplained(counts, one_view)
            self.unexplained_pairs_ = int(unexplained.sum()) // 2
            beyond = np.zeros((m, m), dtype=bool)
            beyond[np.ix_(order, order)] = unexplained & ~one_view
            self._set_beyond(beyond)
            self.views_ = self._views(counts, view)
            joined = np.empty(m, dtype=np.int64)
            joined[order] = order[view]
            self._set_view(joined)
            fresh = not (self._mu > 0).any()  # no previous fit: the warm start is the prior
            restart = not fresh and self._restart_due()
            best = self._fit_at(order, counts, unexplained, pri, mu, restart, iters)
            self.balance_source_ = "majority" if self._given is None else "given"
            pi_cof = self._cofiring_balance(order, counts)
            self.balance_agreement_ = self._agreement(pi_cof)
            if isinstance(self.balance, str) and self.balance == "cofiring":
                pi_mv = self._pi_fit
                self._pi_fit = pi_cof
                alt_pri = self._prior_table(cols)
                alt_mu = np.where(self._mu > 0, self._mu, alt_pri)
                alt = self._fit_at(order, counts, unexplained, alt_pri, alt_mu, restart, iters)
                if alt[2] < best[2]:
                    best, pri, self.balance_source_ = alt, alt_pri, "cofiring"
                else:
                    self._pi_fit = pi_mv
            if fresh or restart:
                self._last_restart = self.n_events_
            mu = best[0][np.argsort(order)]
            self.pair_inflation_ = best[1]
        self._set_fit(np.asarray(mu))
        self._freeze_balance()
        self._set_prior(pri)
        self._set_fire(self._firing(np.arange(m)))
        if iters:
            self.n_fits_ += 1

    def _fit_at(
        self,
        order: NDArray[np.intp],
        counts: _PairCounts,
        unexplained: NDArray[np.bool_],
        pri: _F,
        mu: _F,
        restart: bool,
        iters: int,
    ) -> tuple[_F, float, float]:
        """Fit at the balance ``_pi_fit``; return the fit in ``order``, inflation, objective.

        From the warm start ``mu``, and on a restart from the prior ``pri`` too (kept when
        its objective is lower by ``_RESTART_GAIN``).
        """
        problem = self._moment_problem(order, pri[order], counts, unexplained)
        best = self._als(problem, mu[order], iters)
        if restart:
            cold = self._als(problem, pri[order], iters)
            if cold[2] < (1.0 - _RESTART_GAIN) * best[2]:
                best = cold
        return best

    def _cofiring_balance(self, order: NDArray[np.intp], counts: _PairCounts) -> _F:
        """Return the class balance same-class co-firing implies, shape (k,).

        For LFs that vote c only on events of class c, ``P(l_i = c, l_j = c) = pi_c
        mu_i mu_j`` and ``P(l_i = c) = pi_c mu_i``, so the pair's lift over chance is
        ``1 / pi_c``. Summed over the pairs of LFs in ``order`` (each over the events
        both were present for), plus ``_COFIRING_PSEUDO`` pseudo-events of chance
        co-firing; the inverse lifts, normalised (``balance="cofiring"``). An LF that also
        fires on other classes lowers its class's lift, so the estimate leans toward the
        classes with vaguer LFs.
        """
        k = self.cardinality
        rates = (self._Fv / np.maximum(self._T, 1e-300)[:, None])[order]  # (m, v)
        # Per class c, the co-cast votes for c of two different LFs i != j.
        lf, vote = counts.act // k, counts.act % k
        both = (vote[:, None] == vote[None, :]) & (lf[:, None] != lf[None, :])
        same = np.bincount(vote, weights=(counts.votes * both).sum(axis=1), minlength=k)
        tt = counts.tt
        chance = np.einsum("ij,ic,jc->c", tt, rates, rates) - np.diag(tt) @ (rates * rates)
        a = _COFIRING_PSEUDO * self._scale
        inv = (chance + a) / (same + a)
        return np.asarray(inv / inv.sum())

    def _agreement(self, pi_cof: _F) -> float:
        """Return how far majority vote's balance and ``pi_cof`` agree, in [0, 1].

        1 at the same shares, 0 from a total variation distance of ``_AGREE_SPAN`` up, and
        0 for a balance given (taken at the weight set). Read by :attr:`prior_`.
        """
        if self._given is not None:
            return 0.0
        tv = 0.5 * float(np.abs(pi_cof - self._fit_balance()).sum())
        return min(1.0, max(0.0, 1.0 - tv / _AGREE_SPAN))

    def _weight(self) -> float:
        """Return the exponent of the balance in a prediction (see :attr:`prior_`)."""
        w = self.prior_weight
        return w + (1.0 - w) * self.balance_agreement_

    def _restart_due(self) -> bool:
        """Whether this refit also starts from the prior (see ``_fit_moments``).

        Yes once the events have doubled or a half-life has passed since the last
        restart: half the statistics (or more) are new, and their best fit may lie in
        another basin than the warm start's.
        """
        n, last = self.n_events_, self._last_restart
        return n >= 2 * last or (self.half_life is not None and n - last >= self.half_life)

    def _moment_problem(
        self,
        order: NDArray[np.intp],
        mu0: _F,
        counts: _PairCounts,
        leave_out: NDArray[np.bool_],
    ) -> _MomentProblem:
        """Collect the least-squares problem of the moment fit, LFs in ``order``.

        ``mu0`` is the prior table (the ridge's target), ``counts`` the pair moments and
        ``leave_out`` the (m, m) pairs the fit ignores, all in ``order``.
        """
        k = self.cardinality
        t = max(self._t, 1e-300)
        tt = np.where(leave_out, 0.0, counts.tt)
        # Pair weight: the fraction of events both LFs were present for; the pair moment
        # itself is normalised by that co-presence.
        w = tt / t
        np.fill_diagonal(w, 0.0)
        inv = np.where(tt > 0, 1.0 / np.where(tt > 0, tt, 1.0), 0.0)
        np.fill_diagonal(inv, 0.0)
        # Only the codes ever cast have pair terms (``_pair_counts``): with many unipolar
        # LFs the (m k)^2 product of each sweep shrinks about k^2-fold.
        act = counts.act
        lf = act // k
        Oh = counts.votes * inv[np.ix_(lf, lf)]
        Ow = Oh * w[np.ix_(lf, lf)]
        T, Fv = self._T[order], self._Fv[order]
        pi = self._pi_fit
        return _MomentProblem(
            Ow=Ow,
            act=act,
            w=w,
            const=float((Ow * Oh).sum()),
            wf=T / t,
            rates=Fv / np.maximum(T, 1e-300)[:, None],
            pi=pi,
            mu0=mu0,
            ridge=self.prior_strength,
            # The ridge per class is scaled by (k pi_y)^2 as the class's pair terms are
            # (``B = mu * pi``): otherwise it outweighs the data of a small class and pins
            # its ``mu`` to the prior (identical to a plain ridge at a uniform balance).
            rw=(k * pi) ** 2,
            guard=self.intensity_weight_,
        )

    def _als(self, prob: _MomentProblem, mu: _F, iters: int) -> tuple[_F, float, float]:
        """Run the damped ALS from ``mu``; return the fit, its inflation and objective."""
        m, k = mu.shape[0], self.cardinality
        pi, ridge, rw, guard = prob.pi, prob.ridge, prob.rw, prob.guard
        wf = prob.wf[:, None, None]
        rates = prob.rates[:, :, None]
        eye = ridge * np.diag(rw)[None]
        pp = np.outer(pi, pi)[None]
        off = ~np.eye(k, dtype=bool)[None]
        inflation = 1.0
        # Classes no LF has voted yet keep the prior's rates when there are two or more:
        # the moments cannot tell them apart, and fitting them anyway split them by
        # rounding (merges in another order gave fits 1e-7 apart, where their sums were
        # 1e-16). A single one is told apart as the class no LF votes, and is fitted:
        # holding it too, through the early fits of a rare class, moved the expected
        # counts' balance of a keyword fold from 0.24 to 0.60 spam.
        unvoted = np.setdiff1d(np.arange(k), prob.act % k)
        if unvoted.size < 2:
            unvoted = unvoted[:0]
        if unvoted.size:
            mu = mu.copy()
            mu[:, :, unvoted] = prob.mu0[:, :, unvoted]
        for sweep in range(iters):
            OB, A = self._pair_terms(mu, prob)
            if guard > 0.0 and sweep > 0:
                # Fitted to the current ``mu`` from the products this sweep needs anyway.
                inflation = 1.0 + guard * (self._inflation(mu, OB, A, prob.w) - 1.0)
            G = (prob.w @ A).reshape(m, k, k)  # sum_{i != j} w_ij B_i^T B_i
            S = OB / inflation + wf * rates * pi[None, None, :] + ridge * prob.mu0 * rw
            G = G + wf * pp + eye
            new = np.linalg.solve(G, S.transpose(0, 2, 1)).transpose(0, 2, 1)
            new = np.clip(new, _EPS, 1.0)
            # Symmetry breaking: an LF never votes v more often when the class is not v
            # than when it is (no LF is modelled as flipped).
            new = np.where(off, np.minimum(new, np.einsum("jvv->jv", new)[:, :, None]), new)
            new = new / np.maximum(new.sum(axis=1, keepdims=True) / 0.999, 1.0)
            if unvoted.size:
                new[:, :, unvoted] = prob.mu0[:, :, unvoted]
            step = 0.5 * (new - mu)
            mu = mu + step
            # Warm-started refits usually converge in a few sweeps (the canonical order
            # keeps this test the same for the same statistics).
            if np.abs(step).max() < 1e-7:
                break
        OB, A = self._pair_terms(mu, prob)
        if guard > 0.0:  # the factor of the final ``mu``, as reported
            inflation = 1.0 + guard * (self._inflation(mu, OB, A, prob.w) - 1.0)
        return mu, inflation, self._objective(prob, mu, OB, A, inflation)

    def _objective(self, prob: _MomentProblem, mu: _F, OB: _F, A: _F, inflation: float) -> float:
        """Return the least-squares objective the ALS sweeps descend, at ``mu``.

        ``sum_{i != j} w_ij |Ohat_ij / c - mu_i diag(pi) mu_j^T|^2`` (``Ohat`` the pair
        moments normalised by co-presence, ``c`` the inflation) plus the first moments' and
        the ridge's terms, expanded so that it reads the sweep's products (see
        ``_inflation``) and never forms the (m k, m k) model matrix.
        """
        m, k = mu.shape[0], self.cardinality
        MM = np.einsum("iuy,iuz->iyz", mu, mu).reshape(m, k * k)
        c = inflation
        cross, square = float((OB * mu).sum()), float((A * (prob.w @ MM)).sum())
        pair = prob.const / c**2 - 2.0 * cross / c + square
        first = float((prob.wf[:, None] * (prob.rates - mu @ prob.pi) ** 2).sum())
        ridge = prob.ridge * float((((mu - prob.mu0) ** 2) * prob.rw).sum())
        return pair + first + ridge

    def _pair_terms(self, mu: _F, prob: _MomentProblem) -> tuple[_F, _F]:
        """``Ow B`` (m, k, k) and ``B_i^T B_i`` (m, k * k), ``B = mu diag(pi)``, of one sweep."""
        m, k = mu.shape[0], self.cardinality
        B = mu * self._pi_fit[None, None, :]  # (m, u, y)
        OB = np.zeros((m * k, k))
        OB[prob.act] = prob.Ow @ B.reshape(m * k, k)[prob.act]
        return OB.reshape(m, k, k), np.einsum("iuy,iuz->iyz", B, B).reshape(m, k * k)

    def _inflation(self, mu: _F, OB: _F, A: _F, w: _F) -> float:
        """Least-squares factor between the pair moments and those ``mu`` predicts.

        ``argmin_c sum_{i != j} w_ij |O_ij / w_ij - c E_ij|^2`` with ``E_ij = mu_i diag(pi)
        mu_j^T``, clipped to ``[1, _MAX_INFLATION]``: an intensity only adds co-firing.
        Read from the sweep's own products (``OB`` = the weighted pair moments times
        ``mu diag(pi)``, ``A`` = ``B_i^T B_i``; see ``_pair_terms``), never the (m k, m k)
        model matrix.
        """
        m, k = mu.shape[0], self.cardinality
        num = float((OB * mu).sum())
        MM = np.einsum("iuy,iuz->iyz", mu, mu).reshape(m, k * k)
        den = float((A * (w @ MM)).sum())
        if den <= 0.0:
            return 1.0
        return min(_MAX_INFLATION, max(1.0, num / den))

    def _set_fit(self, mu: _F) -> None:
        """Install a moment fit and the log tables the E-step reads."""
        m, k = mu.shape[0], self.cardinality
        self._mu = mu
        self._logmu = np.log(np.maximum(mu, 1e-300)).reshape(m * k, k)
        self._logmu_rows = self._logmu.tolist()
        # log P(LF j abstains | y): used only for all-abstain events while learning, so the
        # class balance is not dragged toward uniform by events no LF covers.
        self._log_silent = np.log(np.maximum(1.0 - mu.sum(axis=1), 1e-9))
        self._fire_fit = mu.sum(axis=1)
        # The E-step's normaliser of the current present set is rebuilt at the next event.
        self._pend_key = None

    def _set_prior(self, pri: _F) -> None:
        """Install the prior table of the expected counts (frozen at each refit).

        Frozen like the balance, so a prediction reads fixed numbers between refits and
        ``predict_proba_one`` stays a handful of multiplications per LF that voted.
        """
        self._pri = np.asarray(pri, dtype=np.float64)
        self._pri_rows = self._pri.reshape(-1, self.cardinality).tolist()

    def _freeze_balance(self, lb: _F | None = None) -> None:
        """Freeze the E-step's log class balance (at each refit; restored on load).

        Freezing it with the fit makes ``learn_many`` and a ``learn_one`` loop see the same
        parameters at every event.
        """
        if lb is None:
            # The balance the fit assumed: ``mu`` was fitted for it, and an E-step at
            # another balance (the expected counts' own) can settle in a worse optimum.
            lb = np.log(self._pi_fit)
        self._lb_fit = np.asarray(lb, dtype=np.float64)
        self._lb_list = self._lb_fit.tolist()

    def _canonical_order(self) -> NDArray[np.intp]:
        """Column order of the sorted LF ids: sums over LFs then do not depend on columns."""
        return np.argsort(np.array(self.lf_ids_, dtype=object), kind="stable")

    # ------------------------------------------------------------------ intensity guard
    def _pair_counts(self, order: NDArray[np.intp]) -> _PairCounts:
        """Read the pair moments in ``order``, with what chance gives each pair.

        Only the (LF, vote) codes ever cast (a nonzero diagonal) are read: a unipolar LF
        casts one of its k codes, so with many LFs and classes this is about a k^2-th of
        the (m k)^2 moments.
        """
        m, k = len(order), self.cardinality
        vorder = (order[:, None] * k + np.arange(k)[None, :]).ravel()
        act = np.flatnonzero(np.diagonal(self._O)[vorder] != 0)
        votes = self._O[np.ix_(vorder[act], vorder[act])]
        lf, vote = act // k, act % k
        cell = (lf[:, None] * m + lf[None, :]).ravel()  # the (i, j) of each pair of codes
        same = vote[:, None] == vote[None, :]
        agree = np.bincount(cell, weights=(votes * same).ravel(), minlength=m * m).astype(
            np.float64, copy=False
        )
        total = np.bincount(cell, weights=votes.ravel(), minlength=m * m).astype(
            np.float64, copy=False
        )
        tt = self._TT[np.ix_(order, order)]
        rates = (self._Fv / np.maximum(self._T, 1e-300)[:, None])[order]  # (m, v)
        fire = rates.sum(axis=1)
        e_agree = tt * (rates @ rates.T)
        return _PairCounts(
            votes=votes,
            act=act,
            tt=tt,
            agree=agree.reshape(m, m),
            disagree=(total - agree).reshape(m, m),
            e_agree=e_agree,
            chance=tt * np.outer(fire, fire) - e_agree,
            fire=fire,
        )

    def _cofiring(self, counts: _PairCounts) -> float:
        """How often LFs that vote different classes fire together, relative to chance.

        ``sum P(l_i = u, l_j = v) / sum P(l_i = u) P(l_j = v)`` over pairs of LFs
        ``i != j`` and votes ``u != v``, each pair over the events both were present for.
        Votes for different classes come mostly from different classes, so under the
        model's conditional independence they meet less often than chance (0.04-0.96 on
        every such stream we have). Above 1, something that is not the class makes LFs fire
        together: a per-event intensity (a long text trips many keywords, a busy card
        many rules). The model cannot explain that with classes; left alone, a class
        under which every LF fires often then pulls in every event with many votes (it
        took 80% of the posterior mass on a stream where it was 8%).
        """
        if len(counts.tt) < 2 or self._t <= 0:
            return 0.0
        off = ~np.eye(len(counts.tt), dtype=bool)
        # Ten pseudo-pairs that never met: a few early co-firings are no evidence.
        num = counts.disagree[off].sum()
        return float(num / (counts.chance[off].sum() + 10.0 * self._scale))

    def _unexplained(self, counts: _PairCounts, one_view: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """Pairs of LFs whose co-firing no fit of the model explains, (m, m).

        With two classes and no LF modelled as flipped, conditional independence makes
        two LFs that vote the same class fire together at least as often as chance, and
        two that vote different classes at most as often (times the guard's inflation).
        A pair far on the other side (two rules for two kinds of one class that never
        meet; a word that votes ham but comes mostly in a spam phrase with a spam word)
        is a dependence the model lacks, and fitting it anyway makes one of the two LFs
        uninformative, usually the better one. Such pairs are left out of the fit; the
        LFs keep their other pairs. With more classes a third class can put co-firing on
        either side of chance, and only the pairs within one view (``one_view``, (m, m):
        LFs that read one field, joined by ``_join``) are left out.
        """
        m = len(counts.tt)
        out = np.zeros((m, m), dtype=bool)
        if m < 3 or self._t <= 0:
            return out
        out |= one_view
        np.fill_diagonal(out, False)
        if self.cardinality != 2:
            return out
        disagree, chance = counts.disagree, counts.chance
        # Disagreeing pairs are measured against the stream's own ratio: with a per-event
        # intensity they all meet more often than chance.
        z_agree, z_disagree = self._pair_z(counts, max(1.0, self.cofiring_ratio_) * chance)
        out |= (counts.e_agree > 0) & (z_agree < -_UNEXPLAINED_Z)
        out |= (
            (chance > 0) & (z_disagree > _UNEXPLAINED_Z) & (disagree > _UNEXPLAINED_LIFT * chance)
        )
        np.fill_diagonal(out, False)
        return out

    def _pair_z(self, counts: _PairCounts, e_disagree: _F) -> tuple[_F, _F]:
        """Poisson z of each pair's same-class and different-class co-votes, (m, m) each.

        Against what chance gives same-class co-votes (``e_agree``) and ``e_disagree``;
        the moments are in units of ``s`` events. Pairs chance gives nothing read inf or
        nan: callers test ``e_agree > 0`` and ``chance > 0``.
        """
        s = self._scale
        with np.errstate(divide="ignore", invalid="ignore"):
            z_agree = (counts.agree - counts.e_agree) / np.sqrt(counts.e_agree * s)
            z_disagree = (counts.disagree - e_disagree) / np.sqrt(e_disagree * s)
        return z_agree, z_disagree

    def _one_field(self, counts: _PairCounts) -> NDArray[np.bool_]:
        """Pairs of LFs that read one field, (m, m): exhaustive or nested.

        Two thresholds on one field, one for each side (``words <= 5`` votes ham,
        ``words > 5`` spam), split the events between them: one of the two always votes.
        Two cuts on one side (``words <= 4`` and ``words <= 5``) nest: one votes only
        where the other does. Conditional independence explains the first only with LFs
        that each fire on every event of some class, the second only with an LF that
        fires on every event of each class the other fires on, so fitting such a pair
        pins rates near 1 and overtrusts the LFs wherever they meet another (a fold of
        threshold LFs on real comments: 5.1 points below majority vote, all on ties).
        Such a pair is one view of the event, not two, and is left out of the fit; each
        LF keeps its pairs with the others. A pair is counted where chance gives ``lam``
        events of the kind that never came (see ``_ONE_FIELD_ALPHA``); an LF that never
        abstains is never counted. Each LF's firing rate over its own presence stands
        for its rate over the events both were present for.
        """
        m = len(counts.tt)
        lam = max(_ONE_FIELD_MIN, math.log(max(m * (m - 1), 1) / _ONE_FIELD_ALPHA))
        s = self._scale
        tt, fire = counts.tt, counts.fire
        both = counts.agree + counts.disagree
        # Events where neither votes (none: exhaustive), and where i votes without j
        # (none: i nests in j), against what chance gives each.
        neither = tt * (1.0 - fire[:, None] - fire[None, :]) + both
        alone = tt * fire[:, None] - both
        exhaustive = (tt * np.outer(1.0 - fire, 1.0 - fire) >= lam * s) & (
            neither < _ONE_FIELD_SLACK * s
        )
        nested = (tt * np.outer(fire, 1.0 - fire) >= lam * s) & (alone < _ONE_FIELD_SLACK * s)
        out = exhaustive | nested | nested.T
        np.fill_diagonal(out, False)
        return np.asarray(out)

    def _join(self, one_field: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Label each LF with its view, shape (m,): LFs joined by ``one_field`` pairs share one.

        A view's label is the index of its first LF, so labels of the same pairs come out
        the same in any order they are joined. Two cuts on a field and the same field read
        the other way are one view even where the two cuts never meet (``words <= 4``
        ham, ``words > 5`` spam): the field links them, and their pair is no more
        conditionally independent than the others.
        """
        m = len(one_field)
        # Union-find, the smaller index the root: a few LFs at most per field.
        parent = list(range(m))

        def root(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for i, j in zip(*np.nonzero(one_field), strict=True):
            a, b = root(int(i)), root(int(j))
            parent[max(a, b)] = min(a, b)
        return np.array([root(i) for i in range(m)], dtype=np.int64)

    def _views(self, counts: _PairCounts, view: NDArray[np.int64]) -> int:
        """Count the informative views of the event the LFs give (``views_``).

        ``view`` labels each LF with its view (``_join``). A view is informative when one
        of its LFs votes with an LF of another view for the same class, or for different
        classes, more than ``_UNEXPLAINED_Z`` Poisson standard deviations off chance:
        under conditional independence two LFs meet by chance when either votes alike on
        every class (with two classes, only then), and such an LF tells nothing of the
        class (the hour a comment was posted).
        """
        if len(view) < 2 or self._t <= 0:
            return 0
        z_agree, z_disagree = self._pair_z(counts, counts.chance)
        off = ((counts.e_agree > 0) & (np.abs(z_agree) > _UNEXPLAINED_Z)) | (
            (counts.chance > 0) & (np.abs(z_disagree) > _UNEXPLAINED_Z)
        )
        tied = off & (view[:, None] != view[None, :])
        return len(set(view[tied.any(axis=1)].tolist()))

    def _set_view(self, view: NDArray[np.int64]) -> None:
        """Install the view of each LF column (labels are column indices of a member)."""
        self._view = np.asarray(view, dtype=np.int64)
        self._view_list: list[int] = self._view.tolist()
        # Per LF, whether its view holds others; and whether any does (the E-step and
        # prediction then count each view's votes once).
        self._shared = np.bincount(self._view, minlength=len(self._view))[self._view] > 1
        self._grouped = bool(self._shared.any())
        # Per set of present LFs, their silences (``_silence_of``), grouped by view.
        self._quiet_cache: dict[tuple[str, ...], _Quiet] = {}

    def _set_beyond(self, beyond: NDArray[np.bool_]) -> None:
        """Install the pairs of LF columns no fit explains (at each fit, LFs in/out, load)."""
        self._beyond = np.asarray(beyond, dtype=bool)
        # Per LF column in such a pair, its partners, for ``predict_proba_one``.
        self._beyond_of: dict[int, frozenset[int]] = {
            int(j): frozenset(np.flatnonzero(row).tolist())
            for j, row in enumerate(self._beyond)
            if row.any()
        }

    # ------------------------------------------------------------------ pooled evidence
    def _pool_evidence(self) -> None:
        """Recompute the pool of each vote: its LFs' shared shape and the spread around it.

        Per vote v, the LFs that cast it, their tables ``log theta[j, v, :]`` centred over
        the classes: an LF's lift (how much likelier its vote is under one class than
        another) is estimated from a few soft counts on a sparse stream, and the spread of
        the estimates across LFs is then mostly that noise. Per class y, the spread the
        counts' own noise does not explain (``tau2``, DerSimonian-Laird: the weighted
        spread around the weighted mean ``shape`` minus what the counts' variances give,
        floored at 0) is the LFs' real difference; at prediction each table moves toward
        ``shape`` by ``var / (var + tau2)``, ``var`` its entry's variance (1 / its count),
        as a random-effects mean shrinks a study's estimate. Where the counts tell the
        LFs apart (``tau2`` large against ``var``) the tables stand; where they do not,
        the LFs of a vote weigh alike and a tie goes by the balance. Votes cast by fewer
        than three LFs are not pooled. The silences a tie reads (``_silence_at``) are
        frozen here too, from each LF's own table.
        """
        self._flush()
        if not self.lf_ids_:
            return
        num, den = self._smoothed(np.arange(len(self.lf_ids_)))  # (m, v, y), (m, y)
        ell = np.log(num / den[:, None, :])
        cent = ell - ell.mean(axis=2, keepdims=True)
        cast = self._Fv > 0.0  # (m, v): the votes each LF has cast
        # Inverse variances of the entries: their counts, in events.
        w = np.where(cast[:, :, None], num / self._scale**2, 0.0)
        sw = w.sum(axis=0)  # (v, y)
        safe = np.where(sw > 0.0, sw, 1.0)
        shape = (w * cent).sum(axis=0) / safe
        q = (w * (cent - shape[None]) ** 2).sum(axis=0)
        c = sw - (w * w).sum(axis=0) / safe
        lfs = cast.sum(axis=0)  # (v,)
        tau2 = np.maximum(0.0, q - (lfs[:, None] - 1)) / np.where(c > 0.0, c, 1.0)
        pooled = cast & (lfs >= _POOL_MIN)[None, :]
        table = shape + tau2 / (tau2 + 1.0 / np.maximum(w, 1e-300)) * (cent - shape)
        # The silences of the LFs that vote one class, frozen with the pool (``_silence_at``).
        silent = np.log1p(-np.minimum(self._firing(np.arange(len(self.lf_ids_))), 1.0 - 1e-9))
        silent -= silent.mean(axis=1, keepdims=True)
        one_class = cast.sum(axis=1) == 1
        self._set_pool(
            pooled,
            np.where(pooled[:, :, None], table, 0.0),
            np.where(one_class[:, None], silent, 0.0),
        )

    def _set_pool(self, pooled: NDArray[np.bool_], table: _F, silence: _F) -> None:
        """Install the pooled evidence and the silences (on schedule, LFs in/out, load, merge)."""
        self._pooled = np.asarray(pooled, dtype=bool)
        self._pool_log = np.asarray(table, dtype=np.float64)
        # (m, y) centred log P(LF j silent | y) of the LFs that vote one class, else 0.
        self._silence = np.asarray(silence, dtype=np.float64)
        self._silence_rows: list[list[float]] = self._silence.tolist()
        self._quiet_cache = {}
        # Per pooled row ``j * k + v``, its likelihood factors, for ``predict_proba_one``.
        k = self.cardinality
        rows = np.flatnonzero(self._pooled.reshape(-1))
        factors = np.exp(self._pool_log.reshape(-1, k)[rows]).tolist()
        self._pool_rows: dict[int, list[float]] = dict(zip(rows.tolist(), factors, strict=True))

    def _firing(self, cols: NDArray[np.int64]) -> _F:
        """P(LF votes | y) of the prediction tables for the LFs in ``cols``, shape (m, y)."""
        k = self.cardinality
        return np.asarray(np.exp(self._log_theta(cols)).reshape(len(cols), k, k).sum(axis=1))

    def _set_fire(self, fire: _F) -> None:
        """Install the frozen firing table of the intensity guard (at refits, LFs in/out)."""
        self._fire = np.asarray(fire, dtype=np.float64).reshape(-1, self.cardinality)
        self._norm_cache = {}

    def _norm(self, fire: _F) -> _F:
        """Per-vote log normaliser of the intensity guard for LFs with ``fire`` (m, y).

        ``w * log F(y)``, ``F(y)`` the expected number of votes of the present LFs when the
        class is y, centred: dividing each vote's likelihood by ``F(y)`` profiles out an
        unknown per-event intensity (only which LFs voted what counts, not how many),
        and ``w`` is :attr:`intensity_weight_`. All zeros when the guard is off.
        """
        w = self.intensity_weight_
        k = self.cardinality
        if w <= 0.0 or fire.shape[0] == 0:
            return np.zeros(k)
        lf = np.log(np.maximum(fire.sum(axis=0), 1e-300))
        return np.asarray(w * (lf - lf.mean()))

    # ------------------------------------------------------------------ learning
    def _decay_weights(self, n: int) -> _F:
        """Inflated weights of the next ``n`` events, renormalising first if needed."""
        g = self._gamma
        if g == 1.0:
            return np.ones(n)
        if self._scale * g ** (-n) > _MAX_SCALE:
            self._renormalize()
        return np.asarray(self._scale * g ** (-np.arange(1, n + 1, dtype=np.float64)))

    def _renormalize(self) -> None:
        self._flush()
        s = self._scale
        s2 = s * s
        for name in ("_T", "_Fv", "_TT", "_O", "_V"):
            setattr(self, name, getattr(self, name) / s)
        for name in ("_n", "_N", "_C"):
            setattr(self, name, getattr(self, name) / s2)
        self._t /= s
        self._scale = 1.0
        self._sync()

    def _fired(
        self, L: NDArray[np.int64], cols: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Rows and flat (LF, vote) codes of the votes that are not ABSTAIN."""
        r, c = np.nonzero(L >= 0)
        return r, cols[c] * self.cardinality + L[r, c]

    def _rowsum(self, r: NDArray[np.int64], vals: _F, n: int) -> _F:
        """Sum the (entries, k) values into their rows, shape (n, k); no BLAS involved."""
        k = self.cardinality
        out = np.empty((n, k))
        for y in range(k):
            out[:, y] = np.bincount(r, weights=vals[:, y], minlength=n)
        return out

    def _add(
        self,
        r: NDArray[np.int64],
        code: NDArray[np.int64],
        cols: NDArray[np.int64],
        post: _F,
        wc: _F,
        w: _F | None,
    ) -> None:
        """Add rows to the counts (weights ``wc``) and, unless ``w`` is None, the moments."""
        self._flush()
        k = self.cardinality
        dim = len(self.lf_ids_) * k
        pw = post * wc[:, None]
        cls = pw.sum(axis=0)
        self._C += cls
        self._N[cols] += cls[None, :]
        n_flat = self._n.reshape(dim, k)
        for y in range(k):
            n_flat[:, y] += np.bincount(code, weights=pw[r, y], minlength=dim)
        if w is None:
            self._sync()
            return
        wsum = float(w.sum())
        self._t += wsum
        # Majority vote's class of each row that has a strict majority (for the fit's balance).
        n = len(w)
        tally = np.bincount(r * k + code % k, minlength=n * k).reshape(n, k)
        top = tally.max(axis=1)
        strict = (top > 0) & ((tally == top[:, None]).sum(axis=1) == 1)
        self._V += np.bincount(tally[strict].argmax(axis=1), weights=w[strict], minlength=k)
        self._T[cols] += wsum
        self._TT[np.ix_(cols, cols)] += wsum
        self._Fv.reshape(-1)[:] += np.bincount(code, weights=w[r], minlength=dim)
        self._add_pairs(r, code, w, dim)
        self._sync()

    def _add_pairs(self, r: NDArray[np.int64], code: NDArray[np.int64], w: _F, dim: int) -> None:
        """Add each pair of votes cast on the same row to the pair moments ``_O``.

        The entries of a row are contiguous in ``r`` / ``code``; rows are taken in groups
        of at most ``_PAIR_CHUNK`` pairs (a single row may exceed it) so the index arrays
        stay small however many LFs vote per event.
        """
        n = len(w)
        per_row = np.bincount(r, minlength=n)
        starts = np.cumsum(per_row) - per_row
        upto = np.cumsum(per_row * per_row)  # pairs of the rows up to and including each
        if not self._O.flags.c_contiguous:  # ``flat`` must be a view, never a copy
            self._O = np.ascontiguousarray(self._O)
        flat = self._O.reshape(-1)
        lo = 0
        while lo < n:
            before = int(upto[lo - 1]) if lo else 0
            hi = max(lo + 1, int(np.searchsorted(upto, before + _PAIR_CHUNK, side="right")))
            e0 = int(starts[lo])
            e1 = int(starts[hi]) if hi < n else len(r)
            rg, cg = r[e0:e1], code[e0:e1]
            reps = per_row[rg]
            a = np.repeat(np.arange(len(rg)), reps)
            first = np.repeat(starts[rg] - e0, reps)
            b = first + np.arange(len(a)) - np.repeat(np.cumsum(reps) - reps, reps)
            pairs = cg[a] * dim + cg[b]
            if len(pairs) * 8 < dim * dim:
                np.add.at(flat, pairs, w[rg[a]])
            else:
                flat += np.bincount(pairs, weights=w[rg[a]], minlength=dim * dim)
            lo = hi

    def _following_refit(self, at: int) -> int:
        """Return the event count of the refit after the one at ``at``.

        Refits happen at 64, 128, 256, ... events, then every ``refit_every`` events, and
        at least 8 times per half-life so the fit keeps up with forgetting.
        """
        step = self.refit_every
        if self.half_life is not None:
            step = min(step, max(16, int(self.half_life / 8)))
        return min(2 * at, at + step)

    def _maybe_refit(self) -> None:
        if self.n_events_ >= self._next_refit:
            self._fit_moments()
            self._next_refit = self._following_refit(self._next_refit)

    def learn_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> None:
        """Learn from a label matrix without gold, in order, as ``learn_one`` would.

        The rows are cut at the moment-fit schedule, so looping ``learn_one`` over the
        same rows yields the same statistics up to floating-point rounding.
        """
        self._ensure_state()
        arr = as_vote_matrix(L, lf_ids, self.cardinality)
        cols = self._columns(lf_ids)
        max_chunk = 1 << 16
        if self.half_life is not None:
            max_chunk = max(1, min(max_chunk, int(200 * self.half_life)))
        start, rows = 0, arr.shape[0]
        # The pool is due every ``_pool_every`` events; only the last time in these rows
        # is computed (nothing reads it in between), where a learn_one loop leaves it.
        end = self.n_events_ + rows
        pool_at = end - end % self._pool_every
        while start < rows:
            stop = min(rows, start + self._next_refit - self.n_events_, start + max_chunk)
            if self.n_events_ < pool_at:
                stop = min(stop, start + pool_at - self.n_events_)
            self._learn_block(arr[start:stop], cols)
            start = stop
            if self.n_events_ == pool_at:
                self._pool_evidence()

    def _learn_block(self, block: NDArray[np.int64], cols: NDArray[np.int64]) -> None:
        n = block.shape[0]
        w = self._decay_weights(n)
        if self._gamma != 1.0:
            self._scale = float(w[-1])
        r, code = self._fired(block, cols)
        logmu = self._logmu[code]
        if self._grouped:  # each view's votes count once, as at prediction
            logmu *= self._view_share(r, code // self.cardinality)[:, None]
        ll = self._rowsum(r, logmu, n) + self._lb_fit[None, :]
        votes = np.bincount(r, minlength=n)
        if self.intensity_weight_ > 0.0:
            ll -= votes[:, None] * self._norm(self._fire_fit[cols])[None, :]
        silent = votes == 0
        if silent.any():
            ll[silent] += self._log_silent[cols].sum(axis=0)[None, :]
        post = _softmax(ll)
        self._add(r, code, cols, post, w * w, w)
        self.n_events_ += n
        self._revision += n
        self._maybe_refit()

    def learn_one(self, votes: Mapping[str, int]) -> None:
        """Learn from one event's votes (LF id -> vote; -1 = the LF ran and abstained)."""
        if "_index" not in self.__dict__:
            self._init_state()
        k = self.cardinality
        key = tuple(votes)
        if key != self._pend_key:
            self._flush()
            index = self._index
            if any(i not in index for i in key):
                # Validate before registering, so a bad event leaves no trace.
                for i, v in votes.items():
                    if v != -1 and not 0 <= v < k:
                        raise ValueError(f"votes must lie in -1..{k - 1}; got {v!r} from {i!r}")
                self._add_lfs([i for i in key if i not in index], {})
            self._pend_key = key
            self._pend_cols = np.fromiter((index[i] for i in key), np.int64, len(key))
            self._pend_set = frozenset(self._pend_cols.tolist())
            self._pend_base = [index[i] * k for i in key]
            self._pend_norm = self._norm(self._fire_fit[self._pend_cols]).tolist()
        vals = votes.values()
        if vals and not -1 <= min(vals) <= max(vals) < k:
            bad = next(v for v in vals if not -1 <= v < k)
            raise ValueError(f"votes must lie in -1..{k - 1}; got {bad!r}")
        codes = [b + v for b, v in zip(self._pend_base, vals, strict=True) if v != -1]
        g = self._gamma
        if g != 1.0:
            if self._scale / g > _MAX_SCALE:
                self._renormalize()
            self._scale /= g
        w = self._scale
        wc = w * w
        self._t += w
        self._pend_w += w
        # One event touches a handful of numbers: plain floats and scalar updates beat
        # numpy's per-call overhead here (the batch path is vectorised).
        pend = self._pend_pw
        lb = self._lb_list
        if codes:
            rows = self._logmu_rows
            if self._grouped:  # as ``_learn_block``: each view's votes count once
                view = self._view_list
                share = self._view_counts([c // k for c in codes])
                ll = lb
                for c in codes:
                    x = share[view[c // k]]
                    ll = [a + b * (1.0 / x) for a, b in zip(ll, rows[c], strict=True)]
            else:
                ll = [sum(col) for col in zip(lb, *[rows[c] for c in codes], strict=True)]
            if self.intensity_weight_ > 0.0:
                r = len(codes)
                ll = [x - r * z for x, z in zip(ll, self._pend_norm, strict=True)]
        else:
            silent = self._log_silent[self._pend_cols].sum(axis=0).tolist()
            ll = [a + b for a, b in zip(lb, silent, strict=True)]
        top = max(ll)
        ex = [math.exp(x - top) for x in ll]
        z = wc / sum(ex)
        pw = [e * z for e in ex]
        for y in range(k):
            pend[y] += pw[y]
        if codes:
            if len(codes) == 1:
                self._V[codes[0] % k] += w
            else:
                tally = [0] * k
                for c in codes:
                    tally[c % k] += 1
                top = max(tally)
                if tally.count(top) == 1:
                    self._V[tally.index(top)] += w
            n_list = self._n_list
            for c in codes:
                row = n_list[c]
                for y in range(k):
                    row[y] += pw[y]
            self._pend_codes += codes
            self._pend_lens.append(len(codes))
            self._pend_post += pw
            self._pend_ws.append(w)
            self._mirror_dirty = True
        self.n_events_ += 1
        self._revision += 1
        if self.n_events_ >= self._next_refit:
            self._maybe_refit()
        if self.n_events_ % self._pool_every == 0:
            self._pool_evidence()

    def learn_gold(
        self,
        votes: Mapping[str, int] | ArrayLike,
        y: int | ArrayLike,
        lf_ids: Sequence[str] | None = None,
    ) -> None:
        """Learn from late gold labels: the true class replaces the posterior.

        Accepts one event (``votes`` a mapping, ``y`` an int) or a matrix with ``lf_ids``.
        Gold sharpens the expected counts (LF accuracies and class balance); the
        moments already saw these events when they were first learned. Predictions read
        it at once for LFs whose vote is not pooled, and at the next pool (every 256
        unlabeled events at most, ``_pool_evidence``) for those whose vote is.
        """
        self._ensure_state()
        if isinstance(votes, Mapping):
            ids = list(votes)
            arr = np.fromiter((votes[i] for i in ids), np.int64, len(ids))[None, :]
        else:
            if lf_ids is None:
                raise ValueError("lf_ids is required with a vote matrix")
            ids = list(lf_ids)
            arr = np.asarray(votes)
        arr = as_vote_matrix(arr, ids, self.cardinality)
        ys = np.atleast_1d(np.asarray(y, dtype=np.int64))
        if ys.shape[0] != arr.shape[0]:
            raise ValueError(f"{arr.shape[0]} vote rows but {ys.shape[0]} gold labels")
        if ((ys < 0) | (ys >= self.cardinality)).any():
            raise ValueError(f"gold labels must lie in 0..{self.cardinality - 1}")
        cols = self._columns(ids)
        post = np.eye(self.cardinality)[ys]
        # Gold arrives late: weigh it as of now, without advancing the event clock.
        wc = np.full(arr.shape[0], self._scale**2 * self.gold_weight)
        r, code = self._fired(arr, cols)
        self._add(r, code, cols, post, wc, None)
        self._revision += arr.shape[0]

    # ------------------------------------------------------------------ parameters
    def _log_theta(self, cols: NDArray[np.int64], *, pooled: bool = False) -> _F:
        """Return log P(l_j = v | y) for the LFs in ``cols``, shape (len(cols) * k, y).

        Row ``c * k + v`` belongs to LF ``cols[c]`` voting ``v``: the expected counts
        smoothed by ``prior_events`` pseudo-events of the prior. With ``pooled``, the
        evidence a prediction reads: pooled rows are those of the latest pool (centred over
        the classes, which a posterior does not see, and moved toward their vote's shared
        shape; see ``_pool_evidence``).
        """
        k = self.cardinality
        num, den = self._smoothed(cols)
        ell = np.log(num / den[:, None, :])
        if pooled:
            hit = self._pooled[cols]
            if hit.any():
                ell[hit] = self._pool_log[cols][hit]
        return np.asarray(ell.reshape(len(cols) * k, k))

    def _smoothed(self, cols: NDArray[np.int64]) -> tuple[_F, _F]:
        """Return the expected counts of the LFs in ``cols`` plus the prior's pseudo-events.

        ``n[j, v, y]`` + ``prior_events`` times the prior table, shape (m, v, y), and
        ``N[j, y]`` + ``prior_events``, shape (m, y), both in the stored scale (``_scale``
        squared): ``theta`` is their ratio.
        """
        s = self.prior_events * self._scale**2
        return self._n[cols] + s * self._pri[cols], self._N[cols] + s

    @property
    def class_balance_(self) -> _F:
        """Estimated class balance P(y), shape (k,): the expected counts'.

        It weighs :meth:`lf_accuracies` and :meth:`lf_precisions`; a prediction's prior
        is majority vote's balance instead (:attr:`prior_`).
        """
        self._ensure_state()
        self._flush()
        c = self._C / self._scale**2 + 1.0
        return np.asarray(c / c.sum())

    @property
    def prior_(self) -> _F:
        """The prior of a prediction, shape (k,): ``pi ** w``, normalised.

        ``pi`` is the balance the moment fit and the E-step assume: majority vote's, the
        decayed share of each class among the events whose votes have a strict majority,
        plus one pseudo-event per class (as :class:`MajorityVote` learns its prior), read
        as of now; or, where the latest fit kept the co-firing balance
        (``balance="cofiring"``), that one; or the class shares given as ``balance``. An
        event without votes (from LFs the model knows) gets exactly this, so by default
        its class is majority vote's. ``w`` is ``prior_weight`` raised toward 1 by
        :attr:`balance_agreement_`: ``w + (1 - w) * agreement``.
        """
        self._ensure_state()
        p = self._prior_balance() ** self._weight()
        return np.asarray(p / p.sum())

    def _prior_balance(self) -> _F:
        """Return the balance of :attr:`prior_`, before its weight, shape (k,)."""
        if self.balance_source_ == "cofiring":
            return self._pi_fit
        return self._fit_balance()

    def _theta_all(self) -> _F:
        m, k = len(self.lf_ids_), self.cardinality
        return np.exp(self._log_theta(np.arange(m))).reshape(m, k, k)  # (m, v, y)

    def lf_accuracies(self) -> dict[str, float]:
        """Estimated P(vote correct | LF votes) per LF id."""
        self._ensure_state()
        self._flush()
        if not self.lf_ids_:
            return {}
        theta = self._theta_all()
        pi = self.class_balance_
        right = np.einsum("y,jyy->j", pi, theta)
        fired = np.einsum("y,jvy->j", pi, theta)
        return {i: float(a) for i, a in zip(self.lf_ids_, right / fired, strict=True)}

    def lf_precisions(self) -> dict[str, NDArray[np.float64]]:
        """Estimated P(y = v | LF votes v) per LF id, shape (k,) each.

        The per-class accuracy of an LF's votes: a unipolar LF is judged only on the
        class it votes.
        """
        self._ensure_state()
        self._flush()
        if not self.lf_ids_:
            return {}
        joint = self._theta_all() * self.class_balance_[None, None, :]  # (m, v, y)
        prec = np.einsum("jvv->jv", joint) / joint.sum(axis=2)
        return {i: prec[c].copy() for c, i in enumerate(self.lf_ids_)}

    # ------------------------------------------------------------------ prediction
    def predict_proba_many(self, L: ArrayLike, lf_ids: Sequence[str]) -> _F:
        """Posterior P(y | votes) per row; never changes the model.

        Abstains carry no evidence, so an all-abstain row gets :attr:`prior_`, except on a
        tie, where the silences of the LFs that vote one class are read too. LFs the model
        has not seen yet count as abstaining. A row where one class has more votes than
        any other is mixed with that verdict (``unanimous_weight``).
        """
        self._ensure_state()
        self._flush()
        arr = as_vote_matrix(L, lf_ids, self.cardinality)
        known = np.fromiter((i in self._index for i in lf_ids), bool, len(lf_ids))
        n = arr.shape[0]
        prior = self.prior_
        log_pi = np.log(prior)
        if not known.any():
            return np.asarray(np.tile(prior, (n, 1)))
        sub = arr[:, known]
        cols = np.fromiter(
            (self._index[i] for i, ok in zip(lf_ids, known, strict=True) if ok), np.int64
        )
        k = self.cardinality
        r, c = np.nonzero(sub >= 0)
        logt = self._log_theta(cols, pooled=True)[c * k + sub[r, c]]
        if self._grouped:
            logt *= self._view_share(r, cols[c])[:, None]
        ll = self._rowsum(r, logt, n) + log_pi[None, :]
        if self.intensity_weight_ > 0.0:
            votes = np.bincount(r, minlength=n)
            ll -= votes[:, None] * self._norm(self._fire[cols])[None, :]
        u = self.unanimous_weight
        if u <= 0.0 and self.views_ >= _MIN_VIEWS:  # the model alone: no rule, no tally
            return _softmax(ll)
        tally, lead = self._tally(r, sub[r, c], n)
        ties = np.flatnonzero((lead == 0) & (tally.max(axis=1) > 0))
        beyond = np.zeros(len(ties), dtype=bool)
        if u > 0.0 and len(ties):
            beyond = self._beyond_at(ties, sub, cols)
            ll[ties] += _SILENCE_WEIGHT * self._silence_at(ties, r, c, cols, n)
        return self._defer_to_votes(_softmax(ll), tally, lead, ties, beyond)

    def _tally(
        self, r: NDArray[np.int64], v: NDArray[np.int64], n: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Return each row's votes per class, (n, k), and its top class's lead over the next, (n,).

        The votes are ``v``, in rows ``r``.
        """
        k = self.cardinality
        tally = np.bincount(r * k + v, minlength=n * k).reshape(n, k)
        if k == 2:  # most streams: a difference, not a partition (a tenth of a prediction)
            lead = np.abs(tally[:, 0] - tally[:, 1])
        else:
            two = np.partition(tally, k - 2, axis=1)[:, k - 2 :]
            lead = two[:, 1] - two[:, 0]
        return tally, lead

    def _silence_at(
        self,
        ties: NDArray[np.int64],
        r: NDArray[np.int64],
        c: NDArray[np.int64],
        cols: NDArray[np.int64],
        n: int,
    ) -> _F:
        """Evidence of the silent LFs on the rows ``ties``, (len(ties), k), in log odds.

        An LF that votes one class carries its evidence in whether it fires: its vote
        makes its class likelier by its lift, and its silence makes it less likely by
        ``P(silent | y)`` (``_silence``, frozen with the pool). A prediction otherwise reads
        votes only (an event without votes gets the prior), and where one class leads, the
        votes decide; on a tie the classes tied in votes are told apart by the LFs that did
        not vote as well: a class with many LFs, none of which fired, is less likely than
        one whose few LFs stayed silent. LFs of one view count once (their mean), and only
        where no LF of their view voted (``words <= 4`` is silent wherever ``words <= 3``
        voted). Rows ``r`` and LF positions ``c`` index the votes; ``cols`` maps positions
        to the model's columns.
        """
        sil = self._silence[cols]  # (present LFs, y)
        # Groups of LFs counted as one: their views, or each LF its own.
        group = self._view[cols] if self._grouped else np.arange(len(cols))
        g = len(self._view) if self._grouped else len(cols)
        size = np.bincount(group, minlength=g)
        per_view = self._rowsum(group, sil / size[group][:, None], g)
        at = np.full(n, -1, dtype=np.int64)
        at[ties] = np.arange(len(ties))
        hit = at[r] >= 0
        # The views that voted on each tie row: their silences are not there.
        key = np.unique(at[r[hit]] * g + group[c[hit]])
        voted = self._rowsum(key // g, per_view[key % g], len(ties))
        return np.asarray(per_view.sum(axis=0)[None, :] - voted)

    def _beyond_at(
        self, ties: NDArray[np.int64], sub: NDArray[np.int64], cols: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Whether two of the LFs that voted on each row of ``ties`` are a pair no fit explains."""
        if not self._beyond_of:
            return np.zeros(len(ties), dtype=bool)
        part = np.flatnonzero(self._beyond[cols].any(axis=1))
        if len(part) < 2:
            return np.zeros(len(ties), dtype=bool)
        fired = (sub[np.ix_(ties, part)] >= 0).astype(np.float64)
        pairs = self._beyond[np.ix_(cols[part], cols[part])].astype(np.float64)
        return np.asarray(((fired @ pairs) * fired).sum(axis=1) > 0)

    def _view_share(self, r: NDArray[np.int64], col: NDArray[np.int64]) -> _F:
        """Weight of each vote (row ``r``, LF column ``col``): 1 / its view's votes in the row.

        The LFs of one view read one field, and their likelihoods multiplied would count
        that field once per LF (``words <= 4`` and ``words <= 5`` both vote on a
        three-word comment); each view's votes count once, as their geometric mean.
        """
        w = np.ones(len(r))
        shared = np.flatnonzero(self._shared[col])  # votes of LFs in views of two or more
        if len(shared):
            key = r[shared] * len(self._view) + self._view[col[shared]]
            _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
            w[shared] = 1.0 / cnt[inv]
        return w

    def _defer_to_votes(
        self,
        P: _F,
        tally: NDArray[np.int64],
        lead: NDArray[np.int64],
        ties: NDArray[np.int64],
        beyond: NDArray[np.bool_],
    ) -> _F:
        """Mix each row of ``P`` with the class most of its votes name (``tally``, ``lead``).

        By ``u`` wherever one class has more votes than any other (unanimous or not);
        a tie (rows ``ties``) goes to its tied classes by the model (``P`` restricted to
        them), unless the LFs give it fewer than three informative views (``views_``) or
        two of its votes are a pair no fit explains (``beyond``, see ``_unexplained``):
        then by the prior, as in majority vote. Called where a rule applies (``u > 0`` or
        too few views).
        """
        u = self.unanimous_weight
        few = self.views_ < _MIN_VIEWS
        k = P.shape[1]
        if u > 0.0:
            rows = np.flatnonzero(lead > 0)
            P[rows] *= 1.0 - u
            P[rows, tally[rows].argmax(axis=1)] += u
        by_prior = np.full(len(ties), few) | beyond
        if k == 2:  # a tie holds both classes: nothing to restrict, only the prior's
            ties, by_prior = ties[by_prior], by_prior[by_prior]
        if len(ties):
            top = tally[ties] == tally[ties].max(axis=1, keepdims=True)
            tied = top * np.where(by_prior[:, None], self.prior_[None, :], P[ties])
            z = tied.sum(axis=1, keepdims=True)
            # (The tied classes' posteriors can all underflow: then they share alike.)
            P[ties] = np.where(
                z > 0.0, tied / np.where(z > 0.0, z, 1.0), top / top.sum(axis=1, keepdims=True)
            )
        return P

    def predict_proba_one(self, votes: Mapping[str, int]) -> _F:
        """Posterior P(y | votes) of one event; the matching row of the batch form."""
        if "_index" not in self.__dict__:
            self._init_state()
        k = self.cardinality
        index = self._index
        s2 = self._scale * self._scale
        s = self.prior_events * s2
        # The presence updates learn_one deferred: read them instead of applying them.
        pend_w = self._pend_w
        pend_pw = self._pend_pw
        pending = self._pend_set if pend_w else _NONE
        if self.balance_source_ == "majority":  # ``_fit_balance`` on plain floats
            sc = self._scale
            c = [x / sc + 1.0 for x in self._V.tolist()]
        else:  # the co-firing balance the fit kept, or the shares given: as ``prior_``
            c = self._prior_balance().tolist()
        total = sum(c)
        # Multiply the few factors on plain floats (numpy's per-call overhead exceeds the
        # arithmetic here); renormalise now and then instead of taking logs.
        w = self._weight()
        p = [(x / total) ** w for x in c]
        n_list, big_n, pri_rows = self._n_list, self._N_list, self._pri_rows
        pooled = self._pool_rows
        share = None
        if self._grouped:  # votes per view, of the known LFs that voted (``_view_share``)
            share = self._view_counts(
                [index[i] for i, v in votes.items() if i in index and 0 <= v < k]
            )
        since = 0
        fired = 0
        tally = [0] * k  # votes per class, for the unanimity rule
        for i, v in votes.items():
            if v == -1:
                continue
            if not 0 <= v < k:
                raise ValueError(f"votes must lie in -1..{k - 1}; got {v!r} from {i!r}")
            j = index.get(i)
            if j is None:  # an LF the model has not seen counts as abstaining
                continue
            row = j * k + v
            num, pri, den = n_list[row], pri_rows[row], big_n[j]
            f = pooled.get(row)  # the pool's factors (``_log_theta``), or None
            x = share.get(self._view_list[j], 1) if share is not None else 1
            if f is not None or x > 1:
                if f is None:
                    if j in pending:
                        den = [d + e for d, e in zip(den, pend_pw, strict=True)]
                    f = [(a + s * b) / (d + s) for a, b, d in zip(num, pri, den, strict=True)]
                if x > 1:  # one of x votes of a view: the x-th root (``_view_share``)
                    f = [g ** (1.0 / x) for g in f]
                p = [q * g for q, g in zip(p, f, strict=True)]
            elif j in pending:
                p = [
                    q * (a + s * b) / (d + e + s)
                    for q, a, b, d, e in zip(p, num, pri, den, pend_pw, strict=True)
                ]
            else:
                p = [q * (a + s * b) / (d + s) for q, a, b, d in zip(p, num, pri, den, strict=True)]
            since += 1
            fired += 1
            tally[v] += 1
            if since == 8:  # a factor is > 1e-30 even for rare votes of long-lived LFs
                z = sum(p)
                p = [q / z for q in p]
                since = 0
        if fired and self.intensity_weight_ > 0.0:
            # In logs: fired * norm can span hundreds of nats on a busy event.
            lp = [
                math.log(q) - fired * x if q > 0.0 else -math.inf
                for q, x in zip(p, self._norm_of(votes), strict=True)
            ]
            top = max(lp)
            p = [math.exp(x - top) for x in lp]
        z = sum(p)
        u = self.unanimous_weight
        if fired:
            second, top = sorted(tally)[-2:]
            if top > second and u > 0.0:
                out = [(1.0 - u) * q / z for q in p]
                out[tally.index(top)] += u
                return np.array(out)
            by_prior = self.views_ < _MIN_VIEWS
            if top == second and u > 0.0 and not by_prior:  # as ``predict_proba_many``
                by_prior = self._beyond_in(votes)
                if not by_prior:
                    quiet = self._silence_of(votes)
                    most = max(quiet)
                    p = [
                        q * math.exp(_SILENCE_WEIGHT * (x - most))
                        for q, x in zip(p, quiet, strict=True)
                    ]
                    z = sum(p)
            if top == second and (by_prior or (u > 0.0 and k > 2)):  # as ``_defer_to_votes``
                weight = self.prior_.tolist() if by_prior else p
                tied = [q if x == top else 0.0 for q, x in zip(weight, tally, strict=True)]
                zt = sum(tied)
                if zt > 0.0:
                    return np.array([q / zt for q in tied])
                even = 1.0 / tally.count(top)
                return np.array([even if x == top else 0.0 for x in tally])
        return np.array([q / z for q in p])

    def _beyond_in(self, votes: Mapping[str, int]) -> bool:
        """Whether two of the known LFs that voted in ``votes`` are a pair no fit explains."""
        partners = self._beyond_of
        if not partners:
            return False
        index = self._index
        fired = {index[i] for i, v in votes.items() if v >= 0 and i in index}
        return any(partners[j] & fired for j in fired if j in partners)

    def _silence_of(self, votes: Mapping[str, int]) -> list[float]:
        """Return the silent LFs' evidence on one event, (k,): a row of ``_silence_at``.

        What every present LF's silence would give is cached per set of present LFs (as
        the intensity normaliser is); the groups that voted are taken out of it.
        """
        key = tuple(votes)
        cached = self._quiet_cache.get(key)
        if cached is None:
            cached = self._quiet_of(key)
            if len(self._quiet_cache) >= 1024:  # bounded: LF sets change rarely
                self._quiet_cache.clear()
            self._quiet_cache[key] = cached
        total, per_group, group_of = cached
        out = total
        voted: set[int] = set()
        for i, v in votes.items():
            g = group_of.get(i) if v >= 0 else None
            if g is not None and g not in voted:
                voted.add(g)
                out = [a - b for a, b in zip(out, per_group[g], strict=True)]
        return out

    def _quiet_of(self, key: tuple[str, ...]) -> _Quiet:
        """Silences of the known LFs in ``key``: their sum, per group (view or LF), groups."""
        index, rows, k = self._index, self._silence_rows, self.cardinality
        present = [index[i] for i in key if i in index]
        view = self._view_list
        group_of = {i: (view[index[i]] if self._grouped else index[i]) for i in key if i in index}
        size = self._view_counts(present) if self._grouped else dict.fromkeys(present, 1)
        per_group: dict[int, list[float]] = {g: [0.0] * k for g in size}
        for i, g in group_of.items():
            per_group[g] = [
                a + b / size[g] for a, b in zip(per_group[g], rows[index[i]], strict=True)
            ]
        total = [0.0] * k
        for part in per_group.values():
            total = [a + b for a, b in zip(total, part, strict=True)]
        return total, per_group, group_of

    def _view_counts(self, cols: list[int]) -> dict[int, int]:
        """Return how many of the LF columns ``cols`` (an event's votes or LFs) each view holds."""
        out: dict[int, int] = {}
        view = self._view_list
        for j in cols:
            out[view[j]] = out.get(view[j], 0) + 1
        return out

    def _norm_of(self, votes: Mapping[str, int]) -> list[float]:
        """Return the intensity normaliser of the known LFs in ``votes`` (cached per key)."""
        key = tuple(votes)
        norm = self._norm_cache.get(key)
        if norm is None:
            index = self._index
            cols = np.fromiter((index[i] for i in key if i in index), np.int64)
            norm = self._norm(self._fire[cols]).tolist()
            if len(self._norm_cache) >= 1024:  # bounded: LF sets change rarely
                self._norm_cache.clear()
            self._norm_cache[key] = norm
        return norm

    # ------------------------------------------------------------------ merging
    def merge(self, other: OnlineLabelModel) -> OnlineLabelModel:
        """Return a new model whose statistics are the sums of ``self``'s and ``other``'s.

        Use it to combine models that learned disjoint parts of one stream (partitions on
        different workers); each side's decay is as of its own latest event.
        """
        self._ensure_state()
        other._ensure_state()
        self._flush()
        other._flush()
        if self._settings() != other._settings():
            raise ValueError("cannot merge label models with different settings")
        out = OnlineLabelModel(**self._settings())
        out._init_state()
        out._add_lfs([*self.lf_ids_, *other.lf_ids_], {})
        # Zero what a new version may have inherited: merged statistics are plain sums.
        out._n[:] = 0.0
        out._N[:] = 0.0
        out._mu[:] = 0.0
        k = out.cardinality
        for src in (self, other):
            cols = np.fromiter((out._index[i] for i in src.lf_ids_), np.int64, len(src.lf_ids_))
            vcols = (cols[:, None] * k + np.arange(k)[None, :]).ravel()
            s = src._scale
            out._t += src._t / s
            out._T[cols] += src._T / s
            out._Fv[cols] += src._Fv / s
            out._TT[np.ix_(cols, cols)] += src._TT / s
            out._O[np.ix_(vcols, vcols)] += src._O / s
            out._n[cols] += src._n / s**2
            out._N[cols] += src._N / s**2
            out._C += src._C / s**2
            out._V += src._V / s
            out.n_events_ += src.n_events_
            out._revision += src._revision
        out._next_refit = 64
        while out._next_refit <= out.n_events_:
            out._next_refit = out._following_refit(out._next_refit)
        out._mu = np.zeros_like(out._mu)
        out._set_fit(out._prior_table(np.arange(len(out.lf_ids_))))
        out._sync()
        out._fit_moments()
        out._pool_evidence()
        return out

    def sufficient_statistics(self) -> dict[str, NDArray[np.float64]]:
        """Return the decayed sufficient statistics, as of now, keyed by name.

        ``t`` events seen (decayed), and per LF in ``lf_ids_`` order: ``T`` presence, ``Fv``
        vote counts, ``TT`` pair presence, ``O`` pair vote counts and ``V`` majority-vote
        class counts (the moments), ``n`` and ``N`` expected counts, ``C`` expected class
        counts. They are additive: the
        statistics of a merge are the sums of its parts'.
        """
        self._ensure_state()
        self._flush()
        s = self._scale
        out: dict[str, NDArray[np.float64]] = {"t": np.array([self._t / s])}
        moments: tuple[tuple[str, _F], ...] = (
            ("T", self._T),
            ("Fv", self._Fv),
            ("TT", self._TT),
            ("O", self._O),
            ("V", self._V),
        )
        counts: tuple[tuple[str, _F], ...] = (("n", self._n), ("N", self._N), ("C", self._C))
        for key, arr in moments:
            out[key] = arr / s
        for key, arr in counts:
            out[key] = arr / (s * s)
        return out

    # ------------------------------------------------------------------ persistence
    def _state_arrays(self) -> dict[str, NDArray[Any]]:
        self._ensure_state()
        self._flush()
        return {
            "T": self._T,
            "Fv": self._Fv,
            "TT": self._TT,
            "O": self._O,
            "n": self._n,
            "N": self._N,
            "C": self._C,
            "mu": self._mu,
            "lb": self._lb_fit,
            "pri": self._pri,
            "V": self._V,
            "pi_fit": self._pi_fit,
            "fire": self._fire,
            "view": self._view,
            "pooled": self._pooled,
            "pool_log": self._pool_log,
            "silence": self._silence,
            "beyond": self._beyond,
        }

    def _state_header(self) -> dict[str, Any]:
        self._ensure_state()
        return {
            "lf_ids": list(self.lf_ids_),
            "scale": self._scale,
            "t": self._t,
            "n_events": self.n_events_,
            "n_fits": self.n_fits_,
            "revision": self._revision,
            "next_refit": self._next_refit,
            "last_restart": self._last_restart,
            "cofiring_ratio": self.cofiring_ratio_,
            "intensity_weight": self.intensity_weight_,
            "pair_inflation": self.pair_inflation_,
            "unexplained_pairs": self.unexplained_pairs_,
            "views": self.views_,
            "balance_source": self.balance_source_,
            "balance_agreement": self.balance_agreement_,
        }

    def _load_state(self, header: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]]) -> None:
        self._init_state()
        self.lf_ids_ = list(header["lf_ids"])
        self._index = {i: c for c, i in enumerate(self.lf_ids_)}
        self._scale = float(header["scale"])
        self._t = float(header["t"])
        self.n_events_ = int(header["n_events"])
        self.n_fits_ = int(header["n_fits"])
        self._revision = int(header["revision"])
        self._next_refit = int(header["next_refit"])
        self._last_restart = int(header.get("last_restart", 0))
        for key, attr in (
            ("T", "_T"),
            ("Fv", "_Fv"),
            ("TT", "_TT"),
            ("O", "_O"),
            ("n", "_n"),
            ("N", "_N"),
            ("C", "_C"),
            ("mu", "_mu"),
        ):
            setattr(self, attr, np.array(arrays[key], dtype=np.float64))
        m, k = len(self.lf_ids_), self.cardinality
        if self._mu.shape != (m, k, k) or self._O.shape != (m * k, m * k):
            raise ValueError("saved label-model arrays do not match its LF ids and cardinality")
        # "V" and "pi_fit" joined format 1 later: a file without them had a uniform fit
        # balance, and gets majority vote's as of now at its next fit.
        if "V" in arrays:
            self._V = np.array(arrays["V"], dtype=np.float64)
            self._pi_fit = np.array(arrays["pi_fit"], dtype=np.float64)
        if self._V.shape != (k,) or self._pi_fit.shape != (k,):
            raise ValueError("saved label-model arrays do not match its cardinality")
        self._set_fit(self._mu)
        self._freeze_balance(arrays["lb"])
        # "pri" joined format 1 later; a file without it gets the table of its statistics.
        pri = arrays.get("pri")
        self._set_prior(self._prior_table(np.arange(m)) if pri is None else pri)
        if self._pri.shape != (m, k, k):
            raise ValueError("saved label-model arrays do not match its LF ids and cardinality")
        # The intensity guard joined format 2 later: a file without it predicted without
        # it, and keeps doing so until its next fit.
        self.cofiring_ratio_ = float(header.get("cofiring_ratio", 0.0))
        self.intensity_weight_ = float(header.get("intensity_weight", 0.0))
        self.pair_inflation_ = float(header.get("pair_inflation", 1.0))
        # So did the views (format 2 too): a file without them settles ties as it did.
        self.views_ = int(header.get("views", _MIN_VIEWS))
        self.unexplained_pairs_ = int(header.get("unexplained_pairs", 0))
        # "balance_source" joined the header later: an older file's fit was majority vote's.
        self.balance_source_ = str(header.get("balance_source", "majority"))
        # So did the balances' agreement: a file without it weighed its prior at
        # ``prior_weight``, and does so until its next fit.
        agree = float(header.get("balance_agreement", 0.0))
        if not 0.0 <= agree <= 1.0:
            raise ValueError(f"saved balance_agreement must lie in [0, 1]; got {agree!r}")
        self.balance_agreement_ = agree
        fire = arrays.get("fire")
        self._set_fire(self._firing(np.arange(m)) if fire is None else fire)
        if self._fire.shape != (m, k):
            raise ValueError("saved label-model arrays do not match its LF ids and cardinality")
        # The LFs' views joined format 2 later: a file without them counted every LF as a
        # view of its own at prediction, and keeps doing so until its next fit.
        view = arrays.get("view")
        self._set_view(np.arange(m) if view is None else view)
        if self._view.shape != (m,) or not ((self._view >= 0) & (self._view < m)).all():
            raise ValueError("saved label-model arrays do not match its LF ids")
        # The pooled evidence joined format 2 later: a file without it predicted with each
        # LF's own table, and keeps doing so until its pool is next due.
        # So did the silences at ties and the pairs beyond any fit, later again: a file
        # without them settles ties without them until its next pool and fit.
        silence = arrays.get("silence")
        if "pooled" in arrays:
            self._set_pool(
                arrays["pooled"],
                arrays["pool_log"],
                np.zeros((m, k)) if silence is None else silence,
            )
        else:
            self._set_pool(np.zeros((m, k), dtype=bool), np.zeros((m, k, k)), np.zeros((m, k)))
        if (
            self._pooled.shape != (m, k)
            or self._pool_log.shape != (m, k, k)
            or self._silence.shape != (m, k)
        ):
            raise ValueError("saved label-model arrays do not match its LF ids and cardinality")
        beyond = arrays.get("beyond")
        self._set_beyond(np.zeros((m, m), dtype=bool) if beyond is None else beyond)
        if self._beyond.shape != (m, m):
            raise ValueError("saved label-model arrays do not match its LF ids")
        self._sync()
