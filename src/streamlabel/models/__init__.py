"""End models trained on the label model's labels, their registry, and hot-swapped serving.

- :class:`PayloadFeaturizer` -- payload dicts to sparse features: hashed text and
  ``"field=value"`` tokens, standardized numbers; a JSON configuration plus two arrays.
- :class:`EndModel` -- logistic regression trained on soft labels (one row per class,
  weighted by its probability) or on hard labels with confidence weights, any k >= 2.
- :func:`save_model_artifact` / :func:`load_model_artifact` -- one ``.npz`` with a JSON
  header and a SHA-256 of its content; loading never unpickles, and a damaged, edited or
  foreign file raises an :class:`ArtifactError` (:class:`CorruptArtifactError`,
  :class:`IncompatibleArtifactError`).
- :class:`ModelRegistry` -- immutable :class:`ModelVersion` records with metrics and
  :class:`Lineage` in a folder; ``promote`` / ``rollback`` of the champion, each a
  :class:`RegistryEntry` (who, when, what, why).
- :class:`ModelRecord` -- the compacted ``models`` topic's value: a model name's champion,
  the entry that made it champion and the artifact bytes (:func:`encode_model_record`,
  :func:`decode_model_record`).
- :func:`evaluate` and :func:`decide` -- champion/challenger metrics and a
  :class:`Decision` (promote only if better by a margin).
- :class:`ServingModel` -- serves one model; ``swap`` verifies a candidate (hash, smoke
  prediction) before atomically replacing the reference; an optional shadow.

Pure core: nothing here imports Faust, Kafka clients or a web framework; scikit-learn
and scipy are imported when a model is fitted or features are computed.

Examples
--------
>>> import numpy as np
>>> from streamlabel.models import EndModel, PayloadFeaturizer, decide, evaluate
>>> f = PayloadFeaturizer(text_fields=["text"], n_features=128)
>>> payloads = [{"text": "win a prize"}, {"text": "meeting at noon"}] * 10
>>> soft = np.array([[0.2, 0.8], [0.9, 0.1]] * 10)
>>> model = EndModel(f).fit(payloads, soft)
>>> metrics = evaluate(model, payloads, soft.argmax(axis=1))
>>> metrics["accuracy"], decide(None, metrics).promote
(1.0, True)
"""

from streamlabel.models._command import (
    MODEL_COMMAND_FORMAT,
    REGISTRY_VIEW_FORMAT,
    ModelCommand,
    ModelCommandError,
    apply_model_command,
    decode_model_command,
    encode_model_command,
    registry_view,
)
from streamlabel.models._evaluate import METRICS, Decision, decide, evaluate
from streamlabel.models._features import PayloadFeaturizer
from streamlabel.models._io import (
    ARTIFACT_FORMAT,
    ARTIFACT_FORMAT_VERSION,
    ArtifactError,
    ArtifactInfo,
    CorruptArtifactError,
    IncompatibleArtifactError,
    artifact_sha256,
    dumps_model_artifact,
    load_model_artifact,
    loads_model_artifact,
    save_model_artifact,
)
from streamlabel.models._model import EndModel
from streamlabel.models._record import (
    MODEL_RECORD_FORMAT,
    MODEL_RECORD_FORMAT_VERSION,
    ModelRecord,
    ModelRecordError,
    decode_model_record,
    encode_model_record,
)
from streamlabel.models._registry import (
    Lineage,
    ModelRegistry,
    ModelVersion,
    RegistryEntry,
    RegistryError,
    VersionExistsError,
)
from streamlabel.models._serving import (
    NoModelError,
    ServedModel,
    ServingModel,
    ShadowPrediction,
    SwapResult,
)

__all__ = [
    "ARTIFACT_FORMAT",
    "ARTIFACT_FORMAT_VERSION",
    "METRICS",
    "MODEL_COMMAND_FORMAT",
    "MODEL_RECORD_FORMAT",
    "MODEL_RECORD_FORMAT_VERSION",
    "REGISTRY_VIEW_FORMAT",
    "ArtifactError",
    "ArtifactInfo",
    "CorruptArtifactError",
    "Decision",
    "EndModel",
    "IncompatibleArtifactError",
    "Lineage",
    "ModelCommand",
    "ModelCommandError",
    "ModelRecord",
    "ModelRecordError",
    "ModelRegistry",
    "ModelVersion",
    "NoModelError",
    "PayloadFeaturizer",
    "RegistryEntry",
    "RegistryError",
    "ServedModel",
    "ServingModel",
    "ShadowPrediction",
    "SwapResult",
    "VersionExistsError",
    "apply_model_command",
    "artifact_sha256",
    "decide",
    "decode_model_command",
    "decode_model_record",
    "dumps_model_artifact",
    "encode_model_command",
    "encode_model_record",
    "evaluate",
    "load_model_artifact",
    "loads_model_artifact",
    "registry_view",
    "save_model_artifact",
]
