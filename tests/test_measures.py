"""M3-M7 against slow, obviously right references on tiny double-precision models."""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import scipy.linalg
import torch
from conftest import ENCODINGS, tiny_batch, tiny_model, tiny_task
from references import own_position_losses, prefix_losses

from analysis.config import RunSpec
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
from analysis.measures.weight_channel import (
    ADAM_EPS,
    context_channel_table,
    shuffle_before,
    weight_channel_pairs,
    weight_channel_table,
)
from analysis.tasks import build_task


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


def _step_by_hand(model, task, inputs, targets, t: int, lr: float, optimizer: str):
    """A copy of the model after one real torch optimiser step on L_t of the first sequence."""
    stepped = copy.deepcopy(model)
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=lr), "adam": lambda p: torch.optim.AdamW(
        p, lr=lr, betas=(0.9, 0.95), eps=ADAM_EPS, weight_decay=0.0)}[optimizer]
    step = make(list(stepped.parameters()))
    task.loss_per_position(stepped(inputs[:1])[0], targets[:1])[0, t].backward()
    step.step()
    return stepped


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_channel_exact_change_matches_a_real_optimiser_step(optimizer: str) -> None:
    """Adam's first step from a fresh state is the reference for the ``adam`` direction (torch.optim.AdamW)."""
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    lr = 0.05
    own, other = (inputs[:1], targets[:1]), (inputs[1:], targets[1:])
    exact, _, exact_other = weight_channel_pairs(model, *own, task.loss_per_position, [lr, 1.0], None, optimizer, other)
    with torch.no_grad():
        before = task.loss_per_position(model(inputs)[0], targets)
    for t in range(inputs.shape[1]):
        stepped = _step_by_hand(model, task, inputs, targets, t, lr, optimizer)
        with torch.no_grad():
            after = task.loss_per_position(stepped(inputs)[0], targets)
        torch.testing.assert_close(exact[0, t], after[0] - before[0], rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(exact_other[0, t], after[1] - before[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_weight_channel_first_order_term_matches_finite_differences(optimizer: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=1)
    lr = 1e-3
    _, first, _ = weight_channel_pairs(model, inputs, targets, task.loss_per_position, [lr], optimizer=optimizer)
    grads, _ = per_target_gradients(model, inputs, targets, task.loss_per_position)
    epsilon = 1e-5
    parameters = [p for _, p in named_parameters(model)]
    for t in (0, 2, 4):
        direction = grads[t] if optimizer == "sgd" else grads[t] / (grads[t].abs() + ADAM_EPS)
        losses = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                offset = 0
                for p in parameters:
                    p += sign * epsilon * direction[offset : offset + p.numel()].view_as(p)
                    offset += p.numel()
                losses.append(task.loss_per_position(model(inputs)[0], targets)[0])
                offset = 0
                for p in parameters:
                    p -= sign * epsilon * direction[offset : offset + p.numel()].view_as(p)
                    offset += p.numel()
        directional = (losses[0] - losses[1]) / (2 * epsilon)  # <d_t, g_u> for every u
        torch.testing.assert_close(first[0, t], -lr * directional, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_small_steps_make_the_exact_change_first_order(optimizer: str) -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=1)
    lrs = [1e-6, 1e-8] if optimizer == "sgd" else [1e-8, 1e-9]  # Adam's direction has entries of size 1: |d| = sqrt(P)
    exact, first, _ = weight_channel_pairs(model, inputs, targets, task.loss_per_position, lrs, optimizer=optimizer)
    torch.testing.assert_close(exact, first, rtol=1e-3, atol=1e-16)


def test_weight_channel_table_sweeps_step_sizes_and_separates_sign_from_magnitude() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    others = tiny_batch(n=4)
    table = weight_channel_table(
        model, inputs, targets, task.loss_per_position, lr=0.01, tokens_per_step=100, others=(others[0][2:], others[1][2:])
    )
    assert set(table["optimizer"]) == {"sgd", "adam"}
    eta = table.groupby("step_scale")["eta"].first()
    assert eta["full"] == 0.01 and eta["token_share"] == pytest.approx(1e-4) and eta["10 lr"] == pytest.approx(0.1)
    assert set(table["eta_factor"].round(12)) == {0.001, 0.01, 0.1, 1.0, 10.0}  # the token share is 1/100 here
    for _, rows in table.groupby("optimizer"):
        first = rows.pivot_table(index=["t", "k"], columns="step_scale", values="first_order_change")
        np.testing.assert_allclose(first["token_share"], first["full"] / 100, rtol=1e-12)  # linear in eta
        np.testing.assert_allclose(first["10 lr"], first["full"] * 10, rtol=1e-12)
    exact_scales = {"full", "0.1 lr"}
    full = table[table["step_scale"].isin(exact_scales)]
    assert full[["exact_change", "exact_abs_change", "exact_change_other"]].notna().all().all()
    assert table.loc[~table["step_scale"].isin(exact_scales), ["exact_change", "exact_change_other"]].isna().all().all()
    # the mean of |change| is at least |mean change|, with equality only where both sequences agree in sign
    assert (full["exact_abs_change"] >= full["exact_change"].abs() - 1e-15).all()
    assert (table["first_order_abs_change"] >= table["first_order_change"].abs() - 1e-15).all()
    assert len(table) == 2 * 6 * sum(6 - k for k in (0, 1, 2, 4))  # optimisers x step sizes x (t, k) that fit


@pytest.mark.parametrize(("regime", "measured"), [("standard", True), ("myopic-state", False), ("myopic-full", False)])
def test_weight_channel_is_measured_on_standard_training_only(regime: str, measured: bool) -> None:
    spec = RunSpec("fake", 0, "fake", {"name": "markov"}, {"context": 6}, {"regime": regime}, {})
    assert MEASURES.get("m7_weight_channel").applies(RunData(spec)) is measured


def test_weight_channel_table_means_match_the_pairs_of_each_sequence() -> None:
    model, task = tiny_model(), tiny_task()
    inputs, targets = tiny_batch(n=2)
    table = weight_channel_table(model, inputs, targets, task.loss_per_position, lr=0.02, tokens_per_step=10)
    row = table[(table["optimizer"] == "adam") & (table["step_scale"] == "full") & (table["t"] == 1) & (table["k"] == 2)]
    changes = [
        float(weight_channel_pairs(model, inputs[i : i + 1], targets[i : i + 1], task.loss_per_position, [0.02],
                                   optimizer="adam")[0][0, 1, 3])
        for i in range(2)
    ]
    assert float(row["exact_change"].iloc[0]) == pytest.approx(sum(changes) / 2, rel=1e-9)
    assert float(row["exact_abs_change"].iloc[0]) == pytest.approx(sum(abs(c) for c in changes) / 2, rel=1e-9)
    assert row["exact_change_other"].isna().all()  # no comparison sequences given


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
