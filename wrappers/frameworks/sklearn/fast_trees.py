"""Fitted scikit-learn tree models evaluated with numpy, all trees one level at a time.

scikit-learn walks a forest tree by tree, paying Python and validation overhead for each
tree: most of a single-row ``predict_proba`` of a 100-tree forest. Here the fitted node arrays
of all trees are joined into one flat table, and each step moves every (row, tree) pair one
level down with a handful of vectorised numpy operations.

The outputs are bit-for-bit those of scikit-learn, because every arithmetic step is the same:

* input is cast to float32 exactly as scikit-learn's validation does, and compared with the
  float64 thresholds by ``x <= threshold`` (left) as the Cython tree does; a NaN follows the
  node's ``missing_go_to_left``;
* a tree's output is its leaf row of ``tree_.value`` (classifiers store class fractions there
  since scikit-learn 1.4, and in 1.9 ``predict_proba`` returns them unchanged);
* a forest adds the tree outputs into zeros one tree after another, in ``estimators_`` order,
  then divides by the number of trees (sequential ``np.add.accumulate``: numpy's pairwise
  ``sum`` differs in the last bit); classifiers' ``predict`` is ``classes_.take(argmax(proba))``,
  so ties go to the first class. (A forest with ``n_jobs > 1`` adds trees in whatever order its
  threads finish, so its own last bits vary from call to call; this gives the ``n_jobs=1`` sum.)
* gradient boosting starts from the init estimator's raw prediction (the default init ignores
  X, so it is computed once and must come out bitwise the same for every row), adds
  ``learning_rate * value`` stage after stage, and hands the raw sum to the estimator's own
  loss for ``predict_proba``; ``predict`` thresholds or argmaxes it as scikit-learn does.

Anything else (other estimators, subclasses that may override ``predict``, multi-output
models, boosting with a custom init estimator, scikit-learn before 1.4) gets ``None`` from
:func:`compile_estimator`; inputs the fast path does not handle (not a numeric 2-D ndarray,
wrong width, infinities, NaN for an estimator that rejects it) are passed to the estimator
itself, so errors and results stay scikit-learn's. A compiled predictor is also checked
against the estimator on probe rows placed at and next to every threshold before it is
returned, so a scikit-learn release that computes differently falls back instead of serving
different numbers.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from wrappers.frameworks.sklearn.describe import accepts_nan

logger = logging.getLogger(__name__)

PROBE_ROWS = 256
#: Up to how much work a batch is faster here than in scikit-learn (measured on 2 cores with
#: bench/fast_trees.py; outputs are the same either way). scikit-learn pays ~80 us per tree
#: and call for a forest whatever the batch, while here a row costs ~14 ns per tree and
#: level: ahead while rows x depth stays below a few thousand. Gradient boosting runs all its
#: trees in one compiled loop after ~0.8 ms of fixed cost: about even at rows x trees x depth
#: = 65,536, ahead below.
FOREST_ROWS_X_DEPTH = 4096
BOOSTING_ROWS_X_NODE_VISITS = 65536


@dataclass(frozen=True, eq=False)
class FastPredictor:
    """``predict``/``predict_proba`` of one fitted tree model, from its joined node arrays.

    Nodes of all trees share one numbering. A walk position is a *slot*, ``2 * node``, so that
    ``slot + went_right`` indexes the chosen branch without a multiplication per level; the
    per-node arrays below are stored once per slot (each value twice) for the same reason.
    """

    estimator: Any
    n_features: int
    roots: np.ndarray  # (trees,) slot of each tree's root
    feature: np.ndarray  # (slots,) feature tested at the node; 0 at leaves
    threshold: np.ndarray  # (slots,) float64 threshold; 0 at leaves
    missing_left: np.ndarray  # (slots,) whether a NaN goes left
    next_slot: np.ndarray  # (slots,) slot of the left (even) / right (odd) child; leaves: itself
    values: np.ndarray  # (nodes, outputs) float64 output of a tree ending in that node
    depth: int  # deepest leaf over all trees: enough steps to reach every leaf
    combine: str  # "tree" (one tree), "mean" (forest) or "boost" (start + sum of stages)
    classes: np.ndarray | None  # classifiers only
    accepts_nan: bool  # whether the estimator itself takes NaN input
    max_rows: int  # larger batches go to scikit-learn, which is faster on them
    #: boosting: the init estimator's raw prediction, the same for every row (k,)
    start: np.ndarray | None = None
    methods: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = {"predict", "predict_proba"} if self.classes is not None else {"predict"}
        object.__setattr__(self, "methods", frozenset(names))

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def n_nodes(self) -> int:
        return len(self.values)

    def unlimited(self) -> FastPredictor:
        """This predictor taking batches of any size itself, for checks on many rows."""
        return replace(self, max_rows=sys.maxsize)

    def cuts(self, feature: int) -> np.ndarray:
        """The finite thresholds the trees compare ``feature`` with (float64, unique)."""
        internal = self.next_slot[0::2] != np.arange(0, 2 * self.n_nodes, 2)
        cuts = self.threshold[0::2][internal & (self.feature[0::2] == feature)]
        return np.unique(cuts[np.isfinite(cuts)])  # a split sending only NaN one way cuts at inf

    # ---- public API, same contract as the estimator's methods -------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        if self.classes is None:
            raise AttributeError(f"{type(self.estimator).__name__} has no predict_proba")
        X32 = self._fast_input(X)
        if X32 is None:
            return self.estimator.predict_proba(X)
        outputs = self._outputs(X32)
        if self.combine == "boost":  # the estimator's own link, on its own raw shape
            return self.estimator._loss.predict_proba(_squeezed(outputs))
        return outputs

    def predict(self, X: Any) -> np.ndarray:
        X32 = self._fast_input(X)
        if X32 is None:
            return self.estimator.predict(X)
        outputs = self._outputs(X32)
        if self.combine == "boost":
            raw = _squeezed(outputs)
            if self.classes is None:
                return raw
            encoded = (raw >= 0).astype(int) if raw.ndim == 1 else np.argmax(raw, axis=1)
            return self.classes[encoded]
        if self.classes is None:
            return outputs[:, 0]
        return self.classes.take(np.argmax(outputs, axis=1), axis=0)

    def handles(self, X: Any) -> bool:
        """Whether X is answered here rather than passed on to the estimator."""
        return self._fast_input(X) is not None

    # ---- the walk --------------------------------------------------------------------------

    def _fast_input(self, X: Any) -> np.ndarray | None:
        """X as C-ordered float32 when the fast path reproduces scikit-learn on it, else None."""
        if type(X) is not np.ndarray or X.dtype.kind not in "biuf":
            return None
        if X.ndim != 2 or X.shape[1] != self.n_features or not 0 < len(X) <= self.max_rows:
            return None
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        finite = np.isfinite(X32)
        if not finite.all() and (not self.accepts_nan or np.isinf(X32).any()):
            return None
        return X32

    def leaves(self, X32: np.ndarray) -> np.ndarray:
        """Global leaf id for every (row, tree): shape (rows, trees)."""
        rows = len(X32)
        flat = X32.astype(np.float64).ravel()  # exact; compares like C's float-to-double
        offsets = (np.arange(rows, dtype=np.intp) * self.n_features)[:, None]
        slots = np.broadcast_to(self.roots, (rows, self.n_trees))
        with_nan = bool(np.isnan(flat).any())
        for _ in range(self.depth):
            position = self.feature.take(slots)
            if rows > 1:
                position += offsets
            x = flat.take(position)
            threshold = self.threshold.take(slots)
            if with_nan:
                go_left = (x <= threshold) | (np.isnan(x) & self.missing_left.take(slots))
                slots = self.next_slot.take(slots + ~go_left)
            else:
                slots = self.next_slot.take(slots + (x > threshold))
        return slots >> 1

    def _outputs(self, X32: np.ndarray) -> np.ndarray:
        """(rows, outputs) float64: leaf values, their forest mean or the boosted raw sum."""
        per_tree = self.values.take(self.leaves(X32), axis=0)  # (rows, trees, outputs)
        if self.combine == "tree":
            return per_tree[:, 0, :]
        if self.combine == "mean":
            # scikit-learn adds tree by tree into zeros: keep that order (0 + a == a exactly)
            total = np.add.accumulate(per_tree, axis=1)[:, -1, :]
            total /= self.n_trees
            return total
        # boosting: stage after stage onto the init prediction, one column per tree of a stage
        rows, width = len(X32), len(self.start)
        stages = per_tree.reshape(rows, self.n_trees // width, width)
        start = np.broadcast_to(self.start, (rows, 1, width))
        return np.add.accumulate(np.concatenate([start, stages], axis=1), axis=1)[:, -1, :]


def _squeezed(raw: np.ndarray) -> np.ndarray:
    """A boosting model's raw prediction as its ``decision_function`` shapes it."""
    return raw.ravel() if raw.shape[1] == 1 else raw


# ---- compiling a fitted estimator ------------------------------------------------------------


def _supported() -> dict[type, tuple[str, bool]]:
    """The exact classes handled: how their trees combine, and whether they classify."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        GradientBoostingClassifier,
        GradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )

    return {
        DecisionTreeClassifier: ("tree", True),
        ExtraTreeClassifier: ("tree", True),
        DecisionTreeRegressor: ("tree", False),
        ExtraTreeRegressor: ("tree", False),
        RandomForestClassifier: ("mean", True),
        ExtraTreesClassifier: ("mean", True),
        RandomForestRegressor: ("mean", False),
        ExtraTreesRegressor: ("mean", False),
        GradientBoostingClassifier: ("boost", True),
        GradientBoostingRegressor: ("boost", False),
    }


def _members(estimator: Any) -> list[Any]:
    """The trees in the order scikit-learn adds them (boosting: stage by stage)."""
    combine, _ = _supported()[type(estimator)]
    if combine == "tree":
        return [estimator]
    return list(np.asarray(estimator.estimators_, dtype=object).ravel())


def _why_unsupported(estimator: Any) -> str | None:
    import sklearn
    from packaging.version import Version

    if Version(sklearn.__version__) < Version("1.4"):
        return f"scikit-learn {sklearn.__version__} stores class counts, not fractions, in trees"
    supported = _supported()
    kind = type(estimator)
    if kind not in supported:
        return f"{kind.__name__} is not a supported tree model"
    if not hasattr(estimator, "n_features_in_"):
        return "the estimator is not fitted"
    if getattr(estimator, "n_outputs_", 1) != 1:
        return "multi-output models are not supported"
    combine, classifier = supported[kind]
    if combine == "boost" and not (estimator.init is None or estimator.init == "zero"):
        return "a custom init estimator is not supported"
    members = _members(estimator)
    if not members:
        return "the model has no trees"
    # a forest's trees predict like the forest; boosting stages are always regression trees
    expected = ("tree", classifier and combine != "boost")
    for tree in members:
        if supported.get(type(tree)) != expected:
            return f"a member of type {type(tree).__name__} is not a supported tree"
        if tree.tree_.n_outputs != 1 or tree.tree_.n_features != estimator.n_features_in_:
            return "a tree has another number of outputs or features"
    if combine != "boost" and classifier:
        width = len(estimator.classes_)
        if any(tree.tree_.value.shape[2] != width for tree in members):
            return "a tree does not cover every class"
    return None


def _boosting_start(estimator: Any) -> np.ndarray | None:
    """The init estimator's raw prediction if it is bitwise the same row for any batch size.

    The default init estimators ignore X, but their link (log, logit) runs through numpy
    loops that may take another code path for some positions of a batch; batches of 1, 64
    and 67 rows cover both, and any difference declines the fast path.
    """
    batches = [np.zeros((n, estimator.n_features_in_)) for n in (1, 64, 67)]
    raws = [np.asarray(estimator._raw_predict_init(b), dtype=np.float64) for b in batches]
    start = raws[0][0].copy()
    same = all(raw.tobytes() == np.tile(start, (len(raw), 1)).tobytes() for raw in raws)
    return start if same else None


def _join(estimator: Any) -> FastPredictor | None:
    """Concatenates the trees' node arrays, with child ids shifted to global slots."""
    combine, classifier = _supported()[type(estimator)]
    start, scale = None, 1.0
    if combine == "boost":
        start, scale = _boosting_start(estimator), estimator.learning_rate
        if start is None:
            return None
    members = _members(estimator)
    depth = max(int(tree.tree_.max_depth) for tree in members)
    if combine == "boost":
        max_rows = BOOSTING_ROWS_X_NODE_VISITS // (len(members) * max(depth, 1))
    else:
        max_rows = FOREST_ROWS_X_DEPTH // max(depth, 1)
    sizes = [tree.tree_.node_count for tree in members]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
    feature, threshold, missing, next_slot, values = [], [], [], [], []
    for first, tree in zip(starts, members, strict=True):
        t = tree.tree_
        ids = np.arange(t.node_count, dtype=np.intp) + first
        leaf = t.children_left == -1
        left = np.where(leaf, ids, t.children_left + first)
        right = np.where(leaf, ids, t.children_right + first)
        feature.append(np.where(leaf, 0, t.feature))
        threshold.append(np.where(leaf, 0.0, t.threshold))
        missing.append(np.asarray(t.missing_go_to_left) != 0)
        next_slot.append(2 * np.column_stack([left, right]).ravel())
        # boosting adds ``learning_rate * value``: the same float64 product, made once here
        values.append(t.value[:, 0, :] * scale if combine == "boost" else t.value[:, 0, :])
    return FastPredictor(
        estimator=estimator,
        n_features=int(estimator.n_features_in_),
        roots=2 * starts,
        feature=np.repeat(np.concatenate(feature).astype(np.intp), 2),
        threshold=np.repeat(np.concatenate(threshold).astype(np.float64), 2),
        missing_left=np.repeat(np.concatenate(missing), 2),
        next_slot=np.concatenate(next_slot).astype(np.intp),
        values=np.ascontiguousarray(np.concatenate(values), dtype=np.float64),
        depth=depth,
        combine=combine,
        classes=np.asarray(estimator.classes_) if classifier else None,
        accepts_nan=accepts_nan(estimator),
        max_rows=max(1, max_rows),
        start=start,
    )


def probe_rows(predictor: FastPredictor, rows: int = PROBE_ROWS, seed: int = 0) -> np.ndarray:
    """float64 rows whose values sit on the trees' thresholds and on both sides of them.

    Each cut contributes itself and its float64 neighbours (which a missing float32 cast
    would route differently) and its nearest float32 values and their float32 neighbours.
    """
    rng = np.random.default_rng(seed)
    probe = np.zeros((rows, predictor.n_features), dtype=np.float64)
    up, down = np.float32(np.inf), np.float32(-np.inf)
    for f in range(predictor.n_features):
        cuts = predictor.cuts(f)
        nearest = cuts.astype(np.float32)
        candidates = np.concatenate(
            [
                cuts,
                np.nextafter(cuts, np.inf),
                np.nextafter(cuts, -np.inf),
                nearest,
                np.nextafter(nearest, up),
                np.nextafter(nearest, down),
            ]
        )
        candidates = candidates[np.isfinite(candidates.astype(np.float32))]
        if len(candidates):
            probe[:, f] = rng.choice(candidates, size=rows)
    if predictor.accepts_nan:
        probe[rng.random(probe.shape) < 0.05] = np.nan
    return probe


def agrees_with_estimator(predictor: FastPredictor, X: np.ndarray) -> bool:
    """Whether every method gives the estimator's own output on X, bit for bit and dtype."""
    predictor = predictor.unlimited()
    for method in sorted(predictor.methods):
        fast = getattr(predictor, method)(X)
        slow = getattr(predictor.estimator, method)(X)
        if fast.dtype != slow.dtype or not np.array_equal(fast, slow):
            return False
    return True


def compile_estimator(estimator: Any) -> FastPredictor | None:
    """A :class:`FastPredictor` equal to ``estimator`` on its probe rows, or None if unsupported."""
    name = type(estimator).__name__
    reason = _why_unsupported(estimator)
    predictor = _join(estimator) if reason is None else None
    if reason is None and predictor is None:
        reason = "its init estimator's raw prediction is not one row for every batch"
    if predictor is None:
        logger.info("no fast tree path for %s: %s", name, reason)
        return None
    if not agrees_with_estimator(predictor, probe_rows(predictor)):
        logger.warning("no fast tree path for %s: it differs from the estimator on probes", name)
        return None
    logger.info(
        "fast tree path for %s: %d trees, %d nodes, depth %d",
        name,
        predictor.n_trees,
        predictor.n_nodes,
        predictor.depth,
    )
    return predictor
