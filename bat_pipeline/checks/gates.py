"""Blocking gate checks on `model_evaluation`: one check per gate, so the UI shows which gate
failed and by how much; a failed gate stops `champion_model` (no promotion)."""

import dagster as dg

from bat_pipeline.assets.evaluation import EvaluationBundle, model_evaluation
from bat_pipeline.assets.metadata import rounded
from bat_pipeline.ml.gates import GATE_NAMES

GATE_DESCRIPTIONS = {
    "min_accuracy": "Test accuracy at least gates.min_accuracy.",
    "min_auc": "Test ROC AUC at least gates.min_auc.",
    "max_loss_gap": "val_loss - train_loss at most gates.max_loss_gap (overfitting).",
    "beats_baseline": "LSTM AUC above the baseline's AUC on the same test window.",
    "no_regression": "AUC not below the current champion's by more than gates.max_regression.",
}


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec(
            name=f"gate_{name}",
            asset=model_evaluation,
            blocking=True,
            description=GATE_DESCRIPTIONS[name],
        )
        for name in GATE_NAMES
    ],
    description="Evaluation gates of the candidate (pure functions in bat_pipeline.ml.gates).",
)
def evaluation_gates(model_evaluation: EvaluationBundle):
    for gate in model_evaluation.result.gates:
        yield dg.AssetCheckResult(
            check_name=f"gate_{gate.name}",
            asset_key=dg.AssetKey("model_evaluation"),
            passed=gate.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "value": rounded(gate.value)
                if gate.value is not None
                else dg.TextMetadataValue("undefined"),
                "threshold": rounded(gate.threshold)
                if gate.threshold is not None
                else dg.TextMetadataValue("n/a"),
                "reason": dg.TextMetadataValue(gate.reason),
            },
        )
