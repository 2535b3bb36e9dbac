"""M3-M7 against slow, obviously right references on tiny double-precision models."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch
from references import own_position_losses, prefix_losses
from tiny import ENCODINGS, tiny_batch, tiny_model, tiny_task
from workflow_helpers import smoke_config

from analysis.config import load_study
from analysis.measures import MEASURES
from analysis.measures.data import RunData
from analysis.measures.decomposition import decompose, decomposition_table
from analysis.measures.myopia import myopia_gap, position_loss_table
from analysis.measures.parameters import PER_TARGET_METHODS, named_parameters, parameter_group, per_target_gradients
from analysis.measures.probes import fit_ridge, probe_table, r_squared, select_and_score
from analysis.measures.reachability import (
    INPUT_DEPENDENT,
    INVARIANCE,
    POSITION_INDEXED,
    REASONS,
    reachability_table,
    structural_reach,
)
from analysis.measures.run import load_model
from analysis.measures.weight_channel import (
    ADAM_EPS,
    COLUMNS,
    GRID_STEP,
    SWEPT,
    adam_preconditioner,
    bracket_maximum,
    centre,
    context_channel_table,
    directions,
    draw_positions,
    make_pairs,
    next_losses,
    shuffle_before,
    slope,
    weight_channel_table,
)
from analysis.spec import RunSpec
from analysis.tasks import build_task
from analysis.training import checkpoint_path, train_run


def _grads(loss, model):
    named = named_parameters(model)
    grads = torch.autograd.grad(loss, [p for _, p in named], allow_unused=True)
    return {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(named, grads, strict=True)}


# M3 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pos_encoding", ENCODINGS)
def test_decomposition_parts_match_brute_force_and_sum_to_the_standard_gradient(pos_encoding: str) -> None:
    model, task = tiny_model(pos_encoding), tiny_task()
    inputs, targets = tiny_batch()
    count = targets.numel()  # decompose uses the mean loss
    parts = decompose(model, inputs, targets, task.loss_per_position)
    full = _grads(own_position_losses(model, inputs, targets, task.loss_per_position, "myopic-full") / count, model)
    state = _grads(own_position_losses(model, inputs, targets, task.loss_per_position, "myopic-state") / count, model)
    standard = _grads(prefix_losses(model, inputs, targets, task.loss_per_position) / count, model)
    for name in standard:
        close = dict(rtol=1e-8, atol=1e-12, msg=lambda m, name=name: f"{name}: {m}")
        torch.testing.assert_close(parts["direct"][name], full[name], **close)
        torch.testing.assert_close(parts["shared"][name], state[name] - full[name], **close)
        torch.testing.assert_close(parts["precache"][name], standard[name] - state[name], **close)
        summed = parts["direct"][name] + parts["shared"][name] + parts["precache"][name]
        torch.testing.assert_close(summed, standard[name], **close)


def test_shared_part_lives_only_in_key_value_weights_and_precache_never_in_the_last_block() -> None:
    model, task = tiny_model("learned", n_layer=2), tiny_task()
    inputs, targets = tiny_batch()
    parts = decompose(model, inputs, targets, task.loss_per_position)
    for name, shared in parts["shared"].items():
        group, layer = parameter_group(name, 2)
        if group not in ("attn_k", "attn_v", "attn_ln"):
            assert torch.equal(shared, torch.zeros_like(shared)), name
        elif name.endswith("weight"):
            assert shared.abs().max() > 1e-6, name
        if layer >= 1:  # the last block's output at s < t reaches no later loss
            assert parts["precache"][name].abs().max() < 1e-12, name
        if layer == 0 and group in ("attn_q", "mlp"):
            assert parts["precache"][name].abs().max() > 1e-6, name


def test_decomposition_table_shares_sum_to_one_and_norms_agree() -> None:
    model, task = tiny_model("rope"), tiny_task()
    inputs, targets = tiny_batch()
    table = decomposition_table(model, inputs, targets, task.loss_per_position)
    parts = decompose(model, inputs, targets, task.loss_per_position)
    shares = table[["share_direct", "share_shared", "share_precache"]].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0, rtol=1e-9)
    everything = table[table["group"] == "all"].iloc[0]
    flat = torch.cat([g.flatten() for g in parts["precache"].values()])
    assert everything["norm_precache"] == pytest.approx(float(flat.norm()), rel=1e-9)
    assert set(table["group"]) >= {"embedding", "attn_q", "attn_k", "attn_v", "attn_o", "mlp", "readout", "all"}


# M4 ---------------------------------------------------------------------------------------------


def test_position_loss_is_the_mean_over_sequences_at_each_position() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=4)
    table = position_loss_table(model, inputs, targets, task.loss_per_position)
    for t in range(inputs.shape[1]):
        expected = sum(
            float(task.loss_per_position(model(inputs[i : i + 1, : t + 1])[0][:, t : t + 1], targets[i : i + 1, t : t + 1]).detach())
            for i in range(4)
        ) / 4
        assert table.loc[t, "loss_mean"] == pytest.approx(expected, rel=1e-9)
    assert list(table.columns) == ["t", "loss_mean"] and table["t"].tolist() == list(range(inputs.shape[1]))


def test_myopia_gap_pairs_each_myopic_run_with_the_standard_run_of_the_same_seed() -> None:
    factors = {"task": "sine", "pos_encoding": "learned", "n_layer": 2, "d_model": 8, "n_head": 2, "context": 3, "steps": 10}
    runs = pd.DataFrame(
        [
            {"condition": f"c-{regime}", "seed": seed, "regime": regime, **factors}
            for regime in ("standard", "myopic-full")
            for seed in (0, 1)
        ]
    )
    rows = []
    for regime, offset in (("standard", 0.0), ("myopic-full", 0.5)):
        for seed in (0, 1):
            for t in range(3):
                rows.append({"condition": f"c-{regime}", "seed": seed, "step": 10, "t": t, "loss_mean": offset + seed + 0.1 * t})
    gap = myopia_gap(pd.DataFrame(rows), runs)
    assert set(gap["condition"]) == {"c-myopic-full"}
    assert (gap["standard_condition"] == "c-standard").all()
    np.testing.assert_allclose(gap["gap"], 0.5)  # a seed mix-up would give 0.5 +- 1
    assert len(gap) == 2 * (3 + 1)  # per position, plus the mean over positions (t = -1)
    overall = gap[gap["t"] == -1].set_index("seed")["loss_myopic"]
    assert overall[1] == pytest.approx(0.5 + 1 + 0.1)


def test_myopia_gap_is_empty_with_its_columns_when_no_run_measured_m4() -> None:
    """A profile whose runs skip M4 (measure.only) aggregates an M4 table with no loss column."""
    runs = pd.DataFrame([{"condition": "c", "seed": 0, "regime": "standard", "task": "sine", "pos_encoding": "learned",
                          "n_layer": 2, "d_model": 8, "n_head": 2, "context": 3, "steps": 10}])
    gap = myopia_gap(pd.DataFrame({"condition": [], "seed": [], "step": []}), runs)
    assert gap.empty
    assert list(gap.columns) == ["condition", "standard_condition", "regime", "task", "pos_encoding", "n_layer",
                                 "d_model", "n_head", "context", "steps", "seed", "step", "t", "loss_myopic",
                                 "loss_standard", "gap"]


# M5 ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", PER_TARGET_METHODS.names())
def test_per_target_gradients_match_one_backward_per_target(method: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=1)
    grads, _ = per_target_gradients(model, inputs, targets, task.loss_per_position, method)
    for t in range(inputs.shape[1]):
        prediction, _ = model(inputs[:, : t + 1])
        expected = _grads(task.loss_per_position(prediction, targets[:, : t + 1])[0, t], model)
        torch.testing.assert_close(grads[t], torch.cat([g.flatten() for g in expected.values()]), rtol=1e-9, atol=1e-13)


def _generic_point(model, seed: int):
    """The model with every weight redrawn from N(0, 0.5^2): a generic point (no zero biases, no unit LayerNorm)."""
    generic = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in generic.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return generic


def _jacrev_gradients(model, inputs, targets, loss_fn, t: int) -> dict[str, torch.Tensor]:
    """dL_t/dtheta by torch.func.jacrev of a functional call on the whole sequence (the causal mask is under test too)."""
    params = {n: p.detach() for n, p in named_parameters(model)}

    def loss(weights):
        prediction, _ = torch.func.functional_call(model, weights, (inputs,))
        return loss_fn(prediction, targets)[0, t]

    return torch.func.jacrev(loss)(params)


REACH_CASES = [(encoding, "markov") for encoding in ENCODINGS] + [("learned", "sine")]


@pytest.mark.parametrize(("pos_encoding", "task_kind"), REACH_CASES)
def test_reachability_rule_matches_autograd_at_two_generic_points(pos_encoding: str, task_kind: str) -> None:
    """Unreachable by the rule: float64 round-off at both points (exactly 0 unless by an invariance); reachable: clearly non-zero."""
    model, task = tiny_model(pos_encoding, task_kind), tiny_task(task_kind)
    inputs, targets = tiny_batch(task_kind, n=1)
    if task_kind == "markov":
        inputs = torch.tensor([[0, 3, 3, 4, 1, 4]])  # tokens 2 never seen; 1 only from t = 4
    else:
        inputs[0, :, 1] = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=inputs.dtype)  # z = 0 up to t = 1
    points = [_generic_point(model, seed) for seed in (11, 12)]
    for t in range(inputs.shape[1]):
        grads = [_jacrev_gradients(point, inputs, targets, task.loss_per_position, t) for point in points]
        scales = [max(float(g.abs().max()) for g in grad.values()) for grad in grads]
        for name, parameter in named_parameters(model):
            reach = structural_reach(name, parameter, model, inputs[0], t)
            for grad, scale in zip(grads, scales, strict=True):
                missed = grad[name][~reach.mask].abs()
                bound = 0.0 if reach.kind in (POSITION_INDEXED, INPUT_DEPENDENT) else 1e-13 * scale
                assert missed.numel() == 0 or float(missed.max()) <= bound, (name, t, reach.reason)
            reached = torch.stack([grad[name].abs() / scale for grad, scale in zip(grads, scales, strict=True)]).amax(0)
            assert (reached[reach.mask] > 1e-9).all(), (name, t)


def test_reachability_counts_are_the_hand_worked_ones() -> None:
    """T = 6, vocab 5, x = 0 3 3 4 1 4, d_model 8, 2 heads (d_head 4): t in {0, 2, 5}."""
    model, task = tiny_model("learned"), tiny_task()
    inputs = torch.tensor([[0, 3, 3, 4, 1, 4]])
    _, targets = tiny_batch(n=1)
    table = reachability_table(model, inputs, targets, task.loss_per_position)
    assert sorted(table["t"].unique()) == [0, 2, 5]
    row = table.set_index(["t", "parameter", "head"])
    for t, positions, tokens in [(0, 1 / 6, 1 / 5), (2, 3 / 6, 2 / 5), (5, 1.0, 4 / 5)]:
        assert row.loc[(t, "positions.table", -1), "fraction_reachable"] == positions
        assert row.loc[(t, "read_in.weight", -1), "fraction_reachable"] == tokens
        for layer in (0, 1):
            for sub in ("query", "key"):
                expected = 0.0 if t == 0 else 1.0
                assert row.loc[(t, f"blocks.{layer}.attn.{sub}.weight", 1), "fraction_reachable"] == expected
            assert row.loc[(t, f"blocks.{layer}.attn.key.bias", 0), "kind"] == INVARIANCE
            assert row.loc[(t, f"blocks.{layer}.attn.key.bias", 0), "n_reachable"] == 0
    assert row.loc[(2, "blocks.0.attn.query.weight", 0), "n_entries"] == 4 * 8  # a head's rows
    assert row.loc[(2, "blocks.0.attn.out.weight", 1), "n_entries"] == 8 * 4  # a head's columns
    assert row.loc[(2, "blocks.0.attn.query.bias", 1), "n_entries"] == 4
    assert row.loc[(2, "blocks.0.attn.out.bias", -1), "n_entries"] == 8
    assert row.loc[(2, "read_in.weight", -1), "reason"] == REASONS["absent_tokens"]
    assert row.loc[(5, "positions.table", -1), "reason"] == ""
    assert set(table[table["t"] == 2].query("fraction_reachable < 1")["parameter"]) == {
        "read_in.weight", "positions.table", "blocks.0.attn.key.bias", "blocks.1.attn.key.bias"
    }
    assert (table["n_reachable_zero"] == 0).all() and table["largest_unreachable_gradient"].max() < 1e-13


def test_rope_keys_are_rotated_by_position_so_their_bias_is_reached() -> None:
    model, task = tiny_model("rope"), tiny_task()
    inputs, targets = tiny_batch(n=1)
    table = reachability_table(model, inputs, targets, task.loss_per_position)
    key_bias = table[table["parameter"].str.endswith("key.bias")]
    assert (key_bias["kind"] == "shared").all()
    assert (key_bias[key_bias["t"] > 0]["fraction_reachable"] == 1.0).all()
    assert (key_bias[key_bias["t"] == 0]["reason"] == REASONS["single_key"]).all()


def test_a_parameter_without_a_rule_is_refused() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="no reachability rule for parameter 'positions.scale'"):
        structural_reach("positions.scale", torch.zeros(3), model, torch.tensor([0, 1]), 1)


# M6 ---------------------------------------------------------------------------------------------


def test_ridge_matches_an_augmented_least_squares_reference() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(50, 4, generator=generator, dtype=torch.float64) * torch.tensor([1.0, 2.0, 0.5, 3.0]) + 1.0
    y = torch.randn(50, 2, generator=generator, dtype=torch.float64)
    alpha = 0.3
    probe = fit_ridge(x, y, alpha)
    z = ((x - x.mean(0)) / x.std(0)).numpy()
    augmented = np.vstack([z, np.sqrt(alpha * 50) * np.eye(4)])
    target = np.vstack([(y - y.mean(0)).numpy(), np.zeros((4, 2))])
    reference, *_ = scipy.linalg.lstsq(augmented, target)
    np.testing.assert_allclose(probe.weights.numpy(), reference, rtol=1e-10, atol=1e-12)
    prediction = probe.predict(x).numpy()
    residual = ((y.numpy() - prediction) ** 2).sum()
    total = ((y.numpy() - y.numpy().mean(0)) ** 2).sum()
    assert r_squared(y, torch.from_numpy(prediction)) == pytest.approx(1 - residual / total)


def test_probe_finds_a_planted_linear_feature_and_not_noise() -> None:
    generator = torch.Generator().manual_seed(1)
    direction = torch.randn(16, 1, generator=generator, dtype=torch.float64)

    def split(n: int, planted: bool):
        x = torch.randn(n, 16, generator=generator, dtype=torch.float64)
        y = x @ direction if planted else torch.randn(n, 1, generator=generator, dtype=torch.float64)
        return x, y

    planted, _ = select_and_score({s: split(400, True) for s in ("fit", "select", "score")})
    noise, _ = select_and_score({s: split(400, False) for s in ("fit", "select", "score")})
    assert planted > 0.999
    assert noise < 0.05


def test_probe_table_has_one_row_per_feature_and_layer() -> None:
    model, task = tiny_model("learned", task_kind="sine"), tiny_task("sine")
    splits = {s: task.sample(20, 6, torch.Generator().manual_seed(i)) for i, s in enumerate(("fit", "select", "score"))}
    model = model.float()
    table = probe_table(model, task, splits)
    assert list(table["layer"]) == [0, 1, 2]
    assert (table["feature"] == "sin_freq_x").all() and (table["n_fit"] == 120).all()


def test_recall_probe_reads_the_key_bound_to_each_value() -> None:
    task = build_task({"name": "recall", "n_keys": 4, "n_values": 4})
    batch = task.sample(5, 9, torch.Generator().manual_seed(0))
    target = task.probe_features(batch)["pair_key"]
    for i in range(5):
        for s in range(9):
            is_value = int(batch.inputs[i, s]) >= 4
            assert bool(target.mask[i, s]) == (is_value and s > 0)
            if target.mask[i, s]:
                assert int(target.values[i, s].argmax()) == int(batch.inputs[i, s - 1])


# M7 ---------------------------------------------------------------------------------------------


def _step_by_hand(model, task, inputs, targets, t: int, eta: float, optimizer: str, second=None):
    """A copy of the model after one step on L_t of one sequence: a real torch optimiser for ``sgd`` and
    ``adam_fresh`` (AdamW's first step), by hand for ``adam_run`` (g / (sqrt(v / (1 - beta2^step)) + eps))."""
    stepped = copy.deepcopy(model)
    task.loss_per_position(stepped(inputs)[0], targets)[0, t].backward()
    if optimizer == "adam_run":
        with torch.no_grad():
            for name, p in stepped.named_parameters():
                p -= eta * p.grad / ((second["exp_avg_sq"][name] / (1 - 0.95 ** second["step"])).sqrt() + second["eps"])
        return stepped
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=eta), "adam_fresh": lambda p: torch.optim.AdamW(
        p, lr=eta, betas=(0.9, 0.95), eps=ADAM_EPS, weight_decay=0.0)}[optimizer]
    make(list(stepped.parameters())).step()
    return stepped


def _planted_state(model, step: int = 7) -> dict:
    """An AdamW state as a checkpoint holds it: second moments of the size a trained run's are (1e-4 to 1e-2)."""
    generator = torch.Generator().manual_seed(3)
    second = {name: 10 ** (-4 + 2 * torch.rand(p.shape, generator=generator, dtype=torch.float64))
              for name, p in model.named_parameters()}
    return {"step": step, "betas": [0.9, 0.95], "eps": ADAM_EPS, "exp_avg": {}, "exp_avg_sq": second}


def test_weight_channel_rows_match_a_real_step_taken_on_a_copy_of_the_model() -> None:
    """Every row of the table (optimiser, eta, sequence) against the slow loop: copy, step on L_t, re-evaluate L_{t+1}."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    state = _planted_state(model)
    positions = draw_positions(2, 6, 2, torch.Generator().manual_seed(0))
    table = weight_channel_table(model, inputs, targets, task.loss_per_position, 0.05, positions,
                                 adam_preconditioner(state, model), start=(0,), limits=(-1, 1))
    assert set(table["optimizer"]) == {"sgd", "adam_run", "adam_fresh"}
    with torch.no_grad():
        before = task.loss_per_position(model(inputs)[0], targets)
    for row in table.itertuples():
        i = row.sequence
        changes, firsts = [], []
        for t in positions[i].tolist():
            stepped = _step_by_hand(model, task, inputs[i : i + 1], targets[i : i + 1], t, row.eta, row.optimizer, state)
            with torch.no_grad():
                after = task.loss_per_position(stepped(inputs[i : i + 1])[0], targets[i : i + 1])[0, t + 1]
            changes.append(float(after - before[i, t + 1]))
            grads = dict(zip([n for n, _ in model.named_parameters()], torch.autograd.grad(
                task.loss_per_position(model(inputs[i : i + 1])[0], targets[i : i + 1])[0, t + 1], list(model.parameters())),
                strict=True))
            firsts.append(sum(float(((p.detach() - q.detach()) * grads[n]).sum())
                              for (n, p), q in zip(stepped.named_parameters(), model.parameters(), strict=True)))
        assert row.exact_change == pytest.approx(np.mean(changes), rel=1e-8, abs=1e-14), row
        assert row.exact_abs_change == pytest.approx(np.mean(np.abs(changes)), rel=1e-8, abs=1e-14), row
        assert row.first_order_change == pytest.approx(np.mean(firsts), rel=1e-8, abs=1e-14), row  # <step, g_{t+1}>
        assert row.loss_next == pytest.approx(float(before[i, positions[i] + 1].mean()), rel=1e-12)
        assert (row.half, row.n_positions) == (i % 2, 2)
        assert row.eta == pytest.approx(0.05 * row.eta_factor)
    assert table.loc[table["optimizer"] == "adam_fresh", "eta_factor"].tolist() == [1.0, 1.0]  # the peak lr only


@pytest.mark.parametrize("optimizer", ["sgd", "adam_run"])
def test_small_steps_make_the_exact_change_first_order(optimizer: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    pairs = make_pairs(model, inputs, targets, task.loss_per_position, draw_positions(2, 6, 5, torch.Generator()))
    direction = directions(optimizer, adam_preconditioner(_planted_state(model), model))
    steps = pairs.steps(direction)
    before = next_losses(pairs, task.loss_per_position, steps, 0.0)
    for eta in ((1e-6, 1e-8) if optimizer == "sgd" else (1e-9, 1e-10)):  # v ~ 1e-3: the Adam step is ~30 x g
        exact = next_losses(pairs, task.loss_per_position, steps, eta) - before
        torch.testing.assert_close(exact, -eta * slope(pairs, direction), rtol=1e-3, atol=1e-16)


def test_the_preconditioner_is_the_bias_corrected_second_moment_in_parameter_order() -> None:
    model = tiny_model()
    state = _planted_state(model, step=3)
    expected = torch.cat([((state["exp_avg_sq"][n] / (1 - 0.95**3)).sqrt() + ADAM_EPS).flatten()
                          for n, _ in named_parameters(model)])
    torch.testing.assert_close(adam_preconditioner(state, model), expected, rtol=1e-15, atol=0)
    for fresh in (None, {}, {**state, "step": 0}, {**state, "exp_avg_sq": {}}):
        assert adam_preconditioner(fresh, model) is None
    with pytest.raises(ValueError, match="trained second moment"):
        directions("adam_run")
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        directions("rmsprop")


def test_without_a_trained_second_moment_the_table_has_no_run_moment_rows() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    table = weight_channel_table(model, inputs, targets, task.loss_per_position, 0.05,
                                 draw_positions(2, 6, 1, torch.Generator()), None, start=(0,), limits=(-1, 1))
    assert set(table["optimizer"]) == {"sgd", "adam_fresh"} and list(table.columns) == COLUMNS


def test_checkpoints_carry_the_adamw_state_the_measures_read(tmp_path) -> None:
    """The final checkpoint's AdamW moments by parameter name (loaded with weights_only=True); step 0: fresh."""
    spec = next(iter(load_study(smoke_config()).runs.values()))
    train_run(spec, tmp_path, progress=False)
    data = RunData(spec)
    model = load_model(checkpoint_path(tmp_path, spec.train["steps"]), data)
    state = data.optimizer_state
    assert state["step"] == spec.train["steps"] and state["betas"] == [0.9, 0.95] and state["eps"] == ADAM_EPS
    assert list(state["exp_avg_sq"]) == [n for n, _ in model.named_parameters()] == list(state["exp_avg"])
    assert adam_preconditioner(state, model).shape == (sum(p.numel() for p in model.parameters()),)
    load_model(checkpoint_path(tmp_path, 0), data)
    assert data.optimizer_state["step"] == 0 and adam_preconditioner(data.optimizer_state, model) is None


def _planted_search(*curves, slope_sign: float = 1.0, limits=(-12, 8), start=(-1, 0, 1)):
    """bracket_maximum on planted transfer curves s(j), one per half (first-order term of the given sign)."""
    calls = []

    def evaluate(j: int):
        calls.append(j)
        return [(float(curve(j)), slope_sign) for curve in curves]

    return bracket_maximum(evaluate, start, limits), calls


def _peak(at: float):
    return lambda j: np.exp(-((j - at) ** 2) / 8) - 0.5


def test_the_grid_brackets_each_halfs_maximum_to_half_a_decade() -> None:
    curves, calls = _planted_search(_peak(-5), _peak(3))
    assert len(calls) == len(set(calls))  # no point evaluated twice
    grid = sorted(curves)
    for half, peak in enumerate((-5, 3)):
        best = max(grid, key=lambda j, half=half: curves[j][half][0])
        assert best == peak and best - 1 in grid and best + 1 in grid
    assert calls[3:5] == [-2, 2] and -4 in calls[5:7]  # strides double while an edge keeps extending: -2, -4, ...


def test_the_grid_stops_at_its_limits_and_where_no_step_helps() -> None:
    falling, _ = _planted_search(lambda j: -j, limits=(-3, 4))  # positive at small eta, no maximum within the limits
    assert min(falling) == -3 and max(falling) == 1
    rising, _ = _planted_search(lambda j: j, slope_sign=-1.0)
    assert max(rising) == 8 and min(rising) == -1  # pushed to the upper limit
    _, calls = _planted_search(lambda j: -j - 10.0, slope_sign=-1.0)
    assert calls == [-1, 0, 1]  # transfer and first order <= 0 at the lowest point: the supremum is 0, as eta -> 0
    chased, _ = _planted_search(lambda j: -j - 10.0 if j > -6 else 1.0 + j / 100, slope_sign=1.0)
    assert -7 in chased  # negative at the lowest point but positive first order: chased down past the dip


def test_the_grid_starts_where_the_step_is_as_long_as_sgds() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=1)
    pairs = make_pairs(model, inputs, targets, task.loss_per_position, draw_positions(1, 6, 3, torch.Generator()))
    assert centre(pairs, directions("sgd")) == 0
    assert centre(pairs, lambda grads: 100.0 * grads) == -4  # 100 x longer: two decades lower
    assert centre(pairs, lambda grads: grads / 10**1.2) == 2  # rounded to the half-decade lattice


def test_positions_are_distinct_sorted_and_leave_room_for_the_next_token() -> None:
    drawn = draw_positions(50, 8, 3, torch.Generator().manual_seed(0))
    assert drawn.shape == (50, 3) and int(drawn.min()) >= 0 and int(drawn.max()) <= 6
    assert all(row.tolist() == sorted(set(row.tolist())) for row in drawn)
    assert set(drawn.flatten().tolist()) == set(range(7))
    assert draw_positions(2, 8, 7, torch.Generator()).tolist() == [list(range(7))] * 2


@pytest.mark.parametrize(("regime", "measured"), [("standard", True), ("myopic-state", False), ("myopic-full", False)])
def test_weight_channel_is_measured_on_standard_training_at_the_final_checkpoint(regime: str, measured: bool) -> None:
    spec = RunSpec("fake", 0, "fake", {"name": "markov"}, {"context": 6}, {"regime": regime}, {})
    measure = MEASURES.get("m7_weight_channel")
    assert measure.applies(RunData(spec)) is measured
    assert measure.final_only and MEASURES.get("m7_context_channel").final_only


def test_shuffle_keeps_the_token_and_everything_after_it_in_place() -> None:
    inputs = torch.arange(12).view(2, 6)
    copies, position = shuffle_before(inputs, torch.Generator().manual_seed(0))
    for row in range(12):
        i, p = divmod(row, 6)
        assert int(position[row]) == p
        assert torch.equal(copies[row, p:], inputs[i, p:])
        assert sorted(copies[row, :p].tolist()) == inputs[i, :p].tolist()


def test_context_channel_alone_is_the_token_at_position_zero() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    table = context_channel_table(model, inputs, targets, task.loss_per_position, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for t in range(inputs.shape[1]):
            alone = task.loss_per_position(model(inputs[:, t : t + 1])[0], targets[:, t : t + 1]).mean()
            assert table.loc[t, "loss_alone"] == pytest.approx(float(alone), rel=1e-9)
    assert table.loc[0, "loss_full"] == pytest.approx(table.loc[0, "loss_alone"], rel=1e-9)
    assert table.loc[0, "loss_shuffled"] == pytest.approx(table.loc[0, "loss_full"], rel=1e-9)


@pytest.mark.parametrize("limits", [(-6, 6), (-1, 1)])
def test_the_swept_grid_brackets_each_halfs_maximum_transfer_on_the_real_curves(limits) -> None:
    """The table's own rows satisfy the search's promise: per swept optimiser and half (sequence % 2), the signed
    transfer -exact (mean over the half's pairs) peaks at a grid point whose neighbours were evaluated, or at a limit,
    or at the bottom where transfer and first-order term are not positive; no step size lies outside the limits."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=4)
    targets = targets[:, :1].expand_as(targets)  # one token per sequence: a small step on L_t helps L_{t+1}, a long one not
    table = weight_channel_table(model, inputs, targets, task.loss_per_position, 0.05,
                                 draw_positions(4, 6, 2, torch.Generator().manual_seed(1)),
                                 adam_preconditioner(_planted_state(model), model), start=(0,), limits=limits)
    assert (table["half"] == table["sequence"] % 2).all()
    interior = 0
    for optimizer in SWEPT:
        rows = table[table["optimizer"] == optimizer].assign(j=lambda d: np.round(np.log10(d["eta_factor"]) / GRID_STEP))
        assert rows["j"].between(*limits).all() and len(rows) == 4 * rows["j"].nunique(), optimizer
        for _, half in rows.groupby("half"):
            transfer = -half.groupby("j")[["exact_change", "first_order_change"]].mean()  # equal pairs per sequence
            j, exponents = transfer["exact_change"].idxmax(), list(transfer.index)
            at_bottom = j == exponents[0] and (transfer.loc[j] <= 0).all()
            if j in limits or at_bottom:
                continue
            assert j - 1 in exponents and j + 1 in exponents, (optimizer, transfer)
            interior += 1
    assert interior >= 2 or limits == (-1, 1)  # the planted targets give the search an interior maximum to find
