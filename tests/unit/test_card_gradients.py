"""The card's all-pairs G^l[t, s] on tiny random GPT-2, GPT-NeoX, Llama and Qwen2 models against jacrev in float64."""
from __future__ import annotations

import pytest
import torch

pytest.importorskip("transformers")

from card_models import sample_text, save_tiny  # noqa: E402

from analysis.card import gradients, load, precaching  # noqa: E402

FAMILIES = ["gpt2", "gpt_neox", "llama", "qwen2"]


def blocks(model: torch.nn.Module, n_layer: int) -> torch.nn.ModuleList:
    """The decoder's list of blocks: the ModuleList with one entry per layer."""
    return next(m for m in model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n_layer)


def perturbed_losses(card: load.CardModel, layer: int, delta: torch.Tensor, inputs, targets, objective):
    """L_t of one sequence with delta added to h^layer, via a hook: block ``layer``'s input, or the head's for the last."""
    def pre_hook(module, args, kwargs):
        if args:
            return (args[0] + delta, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": kwargs["hidden_states"] + delta}

    module = card.model.get_output_embeddings() if layer == card.n_layer else blocks(card.model, card.n_layer)[layer]
    handle = module.register_forward_pre_hook(pre_hook, with_kwargs=True)
    try:
        logits = card.model(input_ids=inputs, use_cache=False).logits
    finally:
        handle.remove()
    return objective(logits, targets)[0]


def jacrev_matrix(card: load.CardModel, inputs, targets, objective) -> torch.Tensor:
    """(N, L+1, T, T) from the full Jacobian dL/d(delta^l) of every sequence and layer: slow and obviously right."""
    width = card.sizes["hidden"]
    out = []
    for i in range(inputs.shape[0]):
        per_layer = []
        for layer in range(card.n_layer + 1):
            zero = torch.zeros(1, inputs.shape[1], width, dtype=torch.float64)
            jacobian = torch.func.jacrev(
                lambda d, layer=layer, i=i: perturbed_losses(card, layer, d, inputs[i : i + 1], targets[i : i + 1], objective)
            )(zero)
            per_layer.append(jacobian[:, 0].norm(dim=-1).detach())
        out.append(torch.stack(per_layer))
    return torch.stack(out)


@pytest.fixture(scope="module", params=FAMILIES)
def tiny(request, tmp_path_factory):
    directory = save_tiny(request.param, tmp_path_factory.mktemp(request.param))
    card = load.load(directory, dtype=torch.float64)
    inputs, targets = load.text_windows(card, sample_text(), context=6, sequences=2)
    return request.param, card, inputs, targets


@pytest.mark.parametrize("objective", [load.token_loss, load.target_logit], ids=["loss", "logit"])
def test_every_entry_matches_jacrev_in_float64_batched_and_looped(tiny, objective) -> None:
    family, card, inputs, targets = tiny
    if objective is load.target_logit and family not in ("gpt2", "llama"):
        pytest.skip("the logit objective on one learned-position and one RoPE family keeps the suite fast")
    expected = jacrev_matrix(card, inputs, targets, objective)
    got = gradients.gradient_matrix(card, inputs, targets, objective, batch_size=2, chunk=4, progress=False)
    assert got.shape == expected.shape == (2, card.n_layer + 1, 6, 6)
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-13)
    looped = gradients.gradient_matrix(card, inputs, targets, objective, method="loop", batch_size=1, progress=False)
    torch.testing.assert_close(looped, got, rtol=1e-10, atol=1e-14)  # chunk 4 of 6 targets: a full and a partial chunk
    assert torch.equal(got.triu(1), torch.zeros_like(got))
    strictly_below = torch.ones(6, 6, dtype=torch.bool).tril(-1)
    assert expected[:, :-1][..., strictly_below].min() > 0  # every earlier source is reached below the last layer
    below = expected.tril() > 0
    error = float(((got - expected).abs()[below] / expected[below]).max())
    print(f"largest relative error against jacrev, {family}, {objective.__name__}: {error:.2e}")


def test_diagonal_normalisation_puts_ones_on_the_diagonal() -> None:
    matrix = torch.tensor([[[[2.0, 0.0], [3.0, 6.0]]]])
    expected = torch.tensor([[[[1.0, 0.0], [0.5, 1.0]]]])
    torch.testing.assert_close(gradients.normalise_by_diagonal(matrix), expected)


def kv_cache_direct(card: load.CardModel, inputs, targets) -> dict[str, torch.Tensor]:
    """The reference for the direct part: each L_t on its own, earlier keys and values read from a KV cache built without
    gradient; summed over t and divided by B T (the mean loss). sdpa (softmax in float64) so round-off stays at 1e-16."""
    named = list(card.model.named_parameters())
    total = {n: torch.zeros_like(p) for n, p in named}
    batch, length = inputs.shape
    card.model.set_attn_implementation("sdpa")
    try:
        for t in range(length):
            past = None
            if t > 0:
                with torch.no_grad():
                    past = card.model(input_ids=inputs[:, :t], use_cache=True).past_key_values
            logits = card.model(input_ids=inputs[:, t : t + 1], past_key_values=past, use_cache=True).logits
            loss = load.token_loss(logits, targets[:, t : t + 1]).sum() / (batch * length)
            for (name, _), grad in zip(named, torch.autograd.grad(loss, [p for _, p in named], allow_unused=True), strict=True):
                if grad is not None:
                    total[name] += grad
    finally:
        card.model.set_attn_implementation("eager")
    return total


def test_the_direct_part_is_the_gradient_with_a_detached_kv_cache(tiny) -> None:
    family, card, inputs, targets = tiny
    parts = precaching.split(card, inputs, targets)
    expected = kv_cache_direct(card, inputs, targets)
    for name, grad in expected.items():
        torch.testing.assert_close(parts["direct"][name], grad, rtol=1e-9, atol=1e-13, msg=name)
    table = precaching.split_table(parts)
    overall = table[table["group"] == "all"].iloc[0]
    assert overall["share_direct"] + overall["share_earlier"] == pytest.approx(1.0)
    assert 0 < overall["share_earlier"] < 1  # earlier positions do carry part of the training gradient
    assert set(table.loc[table["group"] == "block", "layer"]) == {0, 1}


def test_layer_of_reads_the_block_index_of_every_family() -> None:
    names = {"transformer.h.3.attn.c_attn.weight": 3, "gpt_neox.layers.11.mlp.dense_h_to_4h.bias": 11,
             "model.layers.0.self_attn.q_proj.weight": 0, "blocks.2.attn.key.weight": 2, "lm_head.weight": -1,
             "transformer.wte.weight": -1}
    assert {name: precaching.layer_of(name) for name in names} == names


def test_a_model_whose_attention_bypasses_the_interface_gets_no_split(tiny, monkeypatch) -> None:
    family, card, inputs, targets = tiny
    if family != "gpt2":
        pytest.skip("one family is enough: the guard does not depend on the architecture")
    monkeypatch.setattr(precaching, "myopic_attention", lambda *args, **kwargs: pytest.fail("not to be reached"))
    monkeypatch.setattr(card.model, "set_attn_implementation", lambda name: None)  # the swap has no effect
    with pytest.raises(load.CardError, match="does not go through transformers' AttentionInterface"):
        precaching.split(card, inputs, targets)
