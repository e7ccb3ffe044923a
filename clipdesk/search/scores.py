"""What a search score means: the one rule for the score search shows and its minimum filters on.

- CLIP models (softmax scoring) and every query with an image or a photo in it: the cosine
  similarity of photo and query vector, as it always was.
- Sigmoid models (SigLIP) with a query of phrases only: the model's own probability that photo
  and phrase match, ``sigmoid(logit_scale * cos + logit_bias)``, what the model was trained to
  output for an image-text pair. A minimum score of 0.5 then keeps the photos the model thinks
  more likely than not to show the phrase. Photo against photo has no such probability (the scale
  and bias are fitted to image-text pairs, and would put every similar photo at 1.0), so a query
  with an image or a photo keeps cosine.

The probability is a monotone function of the cosine, so the ranking is the same either way; only
the numbers shown and the meaning of the minimum change. Both faces search through
:meth:`clipdesk.services.app.ClipDeskServices.search`, which takes the scale from here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from clipdesk.model.dual_encoder import Scoring
    from clipdesk.search.query import Query

ScoreKind = Literal["cosine", "probability"]


class ScoringModel(Protocol):
    """What the score rule reads of a model (clipdesk.model's ClipModel fits)."""

    @property
    def scoring(self) -> Scoring: ...

    @property
    def logit_scale(self) -> float: ...

    @property
    def logit_bias(self) -> float | None: ...


@dataclass(frozen=True)
class ScoreScale:
    """How a search turns cosine similarities into the scores it shows and filters on."""

    kind: ScoreKind = "cosine"
    logit_scale: float = 1.0  # probability only
    logit_bias: float = 0.0  # probability only

    def scores(self, cosines: np.ndarray) -> np.ndarray:
        """float32 scores of cosine similarities (a copy for probabilities)."""
        cos = np.asarray(cosines, np.float32)
        if self.kind == "cosine":
            return cos
        z = self.logit_scale * cos.astype(np.float64) + self.logit_bias
        # sigmoid as 0.5 * (1 + tanh(z / 2)): no overflow for any z
        p: np.ndarray = (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)
        return p

    def rescored(
        self, ids: np.ndarray, cosines: np.ndarray, min_score: float | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) of hits ranked by cosine (found with :meth:`cosine_floor`), their order
        kept, with the exact minimum applied to the scores themselves."""
        if self.kind == "cosine":
            return ids, cosines  # the index applied the minimum already
        scores = self.scores(cosines)
        if min_score is None:
            return ids, scores
        keep = scores >= np.float32(min_score)
        return ids[keep], scores[keep]

    def cosine_floor(self, min_score: float | None) -> float | None:
        """The least cosine a photo needs to reach ``min_score``, a little lower rather than
        higher (the exact minimum applies to the scores themselves); None: no bound."""
        if min_score is None or self.kind == "cosine":
            return min_score
        if min_score <= 0.0:
            return None
        if min_score >= 1.0:
            return None  # only scores rounding to 1 pass; the exact filter finds them
        logit = math.log(min_score) - math.log1p(-min_score)
        return (logit - self.logit_bias) / self.logit_scale - 1e-4


COSINE = ScoreScale()


def score_scale(model: ScoringModel, query: Query) -> ScoreScale:
    """The scale of ``query``'s scores under ``model`` (see the module notes)."""
    if model.scoring != "sigmoid" or any(t.kind != "text" for t in query.terms):
        return COSINE
    return ScoreScale("probability", float(model.logit_scale), float(model.logit_bias or 0.0))
