"""Mamba-Titan-1.4B-Reasoning, phase `sft` (the SFT20 checkpoint `phase_sft20_best.pt`), in pure PyTorch.

Spec: ../shared/specs/titan.md §1 (module tree, 643 keys), §2 (forward), §5–6 (defects avoided); reference
vectors: ../shared/vectors/titan_tiny.pt. The forward below *is* the `sft` forward: there is no phase state.

Glossary (d = d_model, n = n_layers, E = mimo_paths, mid = n // 2):
    Block(p, x)  x + ssm_p(LN_p(x)): LayerNorm (eps 1e-5, affine) pre-norm Mamba-1 block, keys `norm.*`, `ssm.*`
    e            embedding(ids)                                                    [B, L, d]
    x            residual stream; after the primer x = e + 0.1·Block(primer, e)     [B, L, d]
    s, g         ConceptPerceptron scratchpad [B, 16, d] and injection cp_gate·tanh(mean_slots s) [B, 1, d],
                 added after every layer j with (j+1) % 6 == 0 (titan_concept.py; non-causal by design)
    w, c         top-2 route weights [B, L, E] on the stream after layer mid−1, and the arms' collapse [B, L, d]
                 (titan_arms.py); x += moe_scale·c just before layer mid
    logits       lm_head(norm_f(x)), untied head                                   [B, L, V]

Telemetry markers (identities unless a recorder hooks them, see titan_eval.telemetry):
    RouteTap "domain_router"           weights [B, L, E], chosen [B, L, 2], lengths [B]; fires on every path (whole
                                       rows, prefix cache, cached decoding), wherever the router runs
    ActivationTap "embedding"          e;   "primer": x after the primer (the CP input)
                  "cp_slots"           s;   "cp_injection": g [B, 1, d]
                  "layer_{j}"          Block(layers.j, ·) output, before any CP injection after it
                  "mid_hidden"         the router input;   "bridge": b
                  "arm_{k}"            a_k before the blackboard;   "moe_injection": moe_scale·c
                  "final"              the stream entering norm_f

Stated deviations from the original: rows are right-padded with their real lengths carried (Δ = 0 on pads in every
mixer, CP pooled over each row's real length), so a padded batch equals each row run alone; the original has no
padding support. Exact stepwise decoding of the whole model is impossible (the CP summary changes with every token), so
`capabilities.recurrent_state` is False; `begin_decode` / `continue_decode` cache only what is exactly reusable
(every block before the first CP injection) and recompute the rest over the full prefix each token.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError
from titan_eval.models.base import Capabilities, LanguageModel, RecurrentState, full_lengths, padding_mask
from titan_eval.models.mamba_mixer import MambaMixer, MixerState
from titan_eval.models import titan_convert as convert
from titan_eval.models.titan_arms import (BLACKBOARD_THRESHOLD, BRIDGE_RANK, BUS_DIM, TOP_K, LowRankBridge, collapse_arms,
                                         route_top_k)
from titan_eval.models.titan_concept import ConceptPerceptron
from titan_eval.models.titan_config import (CP_EVERY, D_CONV, D_STATE, EXPAND, NORM_EPS, PRIMER_SCALE, TitanConfig,
                                            config_from_mamba_state_dict, expected_parameter_count)
from titan_eval.models.taps import ActivationTap, RouteTap

@dataclass(frozen=True)
class TitanDecodeCache(RecurrentState):
    """`prefix_cache` / `begin_decode` / `continue_decode` cache, batch-first: the primer stream (CP input) and the
    stream after the reusable prefix, right-padded buffers [B, ≥ max length, d]; each row's length [B]; the Mamba
    conv / SSM states of every block in the reusable prefix (primer, layers, and arms when they fall inside it), in
    call order."""

    primer: Tensor
    stream: Tensor
    lengths: Tensor
    conv: tuple[Tensor, ...] = field(default=())
    ssm: tuple[Tensor, ...] = field(default=())


def _decode_cache(cache: RecurrentState) -> TitanDecodeCache:
    if not isinstance(cache, TitanDecodeCache):
        raise ModelError(f"titan cannot continue decoding from a {type(cache).__name__}")
    return cache


def _grown(buffer: Tensor, need: int) -> Tensor:
    """buffer [B, W, d] widened to at least `need` positions, in blocks of ≥ 64 (zeros), so most decoding steps
    widen nothing."""
    if need <= buffer.shape[1]:
        return buffer
    grow = max(64, need - buffer.shape[1])
    return torch.cat([buffer, buffer.new_zeros(buffer.shape[0], grow, buffer.shape[2])], dim=1)


class _StatefulBlocks:
    """Runs Titan blocks in a fixed order, feeding block i its previous Mamba state (from `cache`, or none) and
    collecting the new states."""

    def __init__(self, cache: TitanDecodeCache | None) -> None:
        self.cache = cache
        self.conv: list[Tensor] = []
        self.ssm: list[Tensor] = []

    def __call__(self, block: "TitanBlock", x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        i = len(self.conv)
        prev = None if self.cache is None else MixerState(self.cache.conv[i], self.cache.ssm[i])
        out, state = block.ssm(block.norm(x), lengths, mask, prev)
        self.conv.append(state.conv)
        self.ssm.append(state.ssm)
        return x + out


class TitanBlock(nn.Module):
    """`MambaLayer`: x [B, L, d] → x + ssm(LayerNorm(x)), with lengths [B] / mask [B, L] for exact right-padding."""

    def __init__(self, cfg: TitanConfig) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(cfg.d_model, eps=NORM_EPS)
        self.ssm = MambaMixer(cfg.d_model, D_STATE, D_CONV, EXPAND, cfg.dt_rank)

    def forward(self, x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        return x + self.ssm(self.norm(x), lengths, mask)[0]


class TitanLM(LanguageModel):
    """Mamba-Titan (SFT20 forward). forward(ids [B, L], lengths [B] | None) → logits [B, L, vocab_size]."""

    arch = "titan"
    has_hidden = True
    blackboard_parameters: ClassVar[tuple[str, ...]] = ("bb_read.weight",)
    """What `titan_eval.telemetry.ablation.blackboard_ablation` zeroes (the author's ablation: bb_read := 0)."""

    def __init__(self, cfg: TitanConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config_source = {**asdict(cfg), "derived": cfg.derived()}
        self.vocab_size = cfg.vocab_size
        self.capabilities = Capabilities(recurrent_state=False, routing=True, arms=cfg.mimo_paths,
                                         blackboard=self.blackboard_parameters, prefix_cache=True)
        d, arms = cfg.d_model, cfg.mimo_paths
        self.router_temp = nn.Parameter(torch.full((1,), 0.3))  # builder init; never read by the sft forward
        self.cp_gate = nn.Parameter(torch.tensor(0.5))
        self.moe_scale = nn.Parameter(torch.tensor(5.0))
        self.backbone_gate = nn.Parameter(torch.tensor(0.0))  # never read by the forward
        self.embedding = nn.Embedding(cfg.vocab_size, d)
        self.cp = ConceptPerceptron(d)
        self.thalamic_primer = TitanBlock(cfg)
        self.bridge = LowRankBridge(d, BRIDGE_RANK)
        self.layers = nn.ModuleList(TitanBlock(cfg) for _ in range(cfg.n_layers))
        self.mimo_reasoning_blocks = nn.ModuleList(TitanBlock(cfg) for _ in range(arms))
        self.domain_router = nn.Linear(d, arms)
        self.norm_f = nn.LayerNorm(d, eps=NORM_EPS)
        self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)
        self.bb_write = nn.Linear(d, BUS_DIM, bias=False)
        self.bb_read = nn.Linear(BUS_DIM, d, bias=False)
        self.route_tap = RouteTap("domain_router")
        names = ["embedding", "primer", "cp_slots", "cp_injection", "mid_hidden", "bridge", "moe_injection", "final"]
        names += [f"layer_{j}" for j in range(cfg.n_layers)] + [f"arm_{k}" for k in range(arms)]
        self.taps = nn.ModuleDict({name: ActivationTap(name) for name in names})

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "TitanLM":
        """Seeded init (`init_seed`) with the builder's stated values: scalars router_temp 0.3, cp_gate 0.5,
        moe_scale 5.0, backbone_gate 0.0, and a zero primer out_proj; everything else as PyTorch initialises it."""
        cfg = TitanConfig.from_mapping(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.init_seed)
            model = cls(cfg)
        with torch.no_grad():
            model.thalamic_primer.ssm.out_proj.weight.zero_()
        return model.eval()

    @classmethod
    def state_dict_from_checkpoint(cls, obj: Any) -> dict[str, Tensor]:
        """A Titan checkpoint (`{"step", "model"}` or a bare state dict) as is; a state-spaces / HF Mamba-1
        checkpoint is turned into a Titan state dict by `titan_convert.titan_state_dict_from_mamba` (backbone
        from the checkpoint, new parts from the seeded init of the config it implies)."""
        from titan_eval.checkpoints import extract_state_dict

        state_dict = extract_state_dict(obj)
        if convert.is_mamba1_state_dict(state_dict):
            cfg = config_from_mamba_state_dict(state_dict)
            return convert.titan_state_dict_from_mamba(state_dict, cfg, cls.from_config(asdict(cfg)).state_dict())
        return state_dict

    def set_kernel_policy(self, policy: str) -> None:
        """'auto' | 'torch' | 'kernel' for every mixer; recorded in `capabilities.kernels` when active."""
        from titan_eval.models.ops.kernels import active_scan_kernels

        for module in self.modules():
            if isinstance(module, MambaMixer):
                module.kernel_policy = policy
        self.capabilities = self.capabilities.with_kernels(active_scan_kernels(policy, self.embedding.weight.is_cuda))

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.head(self.hidden(ids, lengths)[0])

    def head(self, hidden: Tensor, out: Tensor | None = None) -> Tensor:
        """norm_f and the untied, bias-free lm_head, position-wise: [..., d] → logits [..., V] (into `out` when
        given)."""
        return torch.matmul(self.norm_f(hidden), self.lm_head.weight.t(), out=out)

    def hidden(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, None]:
        """ids [B, L] → (the stream entering norm_f [B, L, d], None): the whole forward but the head."""
        if state is not None:
            raise ModelError("titan has no recurrent state to continue from")
        lengths = full_lengths(ids, lengths)
        mask = padding_mask(lengths, ids.shape[1])
        taps = self.taps
        e = taps["embedding"](self.embedding(ids))
        x = taps["primer"](e + PRIMER_SCALE * self.thalamic_primer(e, lengths, mask))
        slots = taps["cp_slots"](self.cp(x, lengths))
        g = taps["cp_injection"](self.cp_gate * torch.tanh(slots.mean(dim=1, keepdim=True)))
        x = self._layers(range(self.cfg.mid), x, g, lengths, mask)
        x = taps["mid_hidden"](x)
        x = x + taps["moe_injection"](self.moe_scale * self._arms(x, lengths, mask))
        x = self._layers(range(self.cfg.mid, self.cfg.n_layers), x, g, lengths, mask)
        return taps["final"](x), None

    # -- exact incremental decoding ------------------------------------------------------------------------
    # Everything before the first ConceptPerceptron injection is causal: the primer, layers 0 .. c0 (c0 = the
    # first layer followed by an injection, 5 for SFT20) and, when c0 >= mid, also the router / bridge / arms
    # and layers mid .. c0. Those blocks advance by one token from their Mamba states; the CP summary (fed by
    # the cached primer stream) and every layer after c0 are recomputed over the whole prefix, as the faithful
    # forward does. The result equals `forward` up to float rounding (stepwise vs chunked scan).

    @property
    def reusable_prefix(self) -> int:
        """Layers [0, n) that are exactly reusable across decoding steps (all of them when there is no CP)."""
        cp = self.cfg.cp_after
        return cp[0] + 1 if cp else self.cfg.n_layers

    def _causal_prefix(self, ids: Tensor, lengths: Tensor, mask: Tensor, run: "_StatefulBlocks") -> tuple[Tensor, Tensor]:
        """ids [B, L] → (the primer stream, the CP input [B, L, d]; the stream after layer reusable_prefix − 1,
        before its CP injection [B, L, d]), every block run through `run` (which threads its Mamba state)."""
        end, mid = self.reusable_prefix, self.cfg.mid
        e = self.embedding(ids)
        x = primer = e + PRIMER_SCALE * run(self.thalamic_primer, e, lengths, mask)
        for j in range(min(end, mid)):
            x = run(self.layers[j], x, lengths, mask)
        if end > mid:
            weights, chosen = route_top_k(self.domain_router(x), TOP_K)
            weights = self.route_tap(weights, chosen, lengths)
            arms = [partial(run, block, lengths=lengths, mask=mask) for block in self.mimo_reasoning_blocks]
            c = collapse_arms(self.bridge(x), weights, arms, self.bb_write, self.bb_read, BLACKBOARD_THRESHOLD)
            x = x + self.moe_scale * c
            for j in range(mid, end):
                x = run(self.layers[j], x, lengths, mask)
        return primer, x

    def _after_prefix(self, primer: Tensor, x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """The non-reusable rest of `hidden` over whole rows: CP summary of `primer`, its injection after layer
        reusable_prefix − 1, the remaining layers (and the arms when they come later) → the stream entering norm_f."""
        end, mid, n = self.reusable_prefix, self.cfg.mid, self.cfg.n_layers
        slots = self.cp(primer, lengths)
        g = self.cp_gate * torch.tanh(slots.mean(dim=1, keepdim=True))
        if end % CP_EVERY == 0:
            x = x + g
        if end <= mid:
            x = self._layers(range(end, mid), x, g, lengths, mask)
            x = x + self.moe_scale * self._arms(x, lengths, mask)
            end = mid
        return self._layers(range(end, n), x, g, lengths, mask)

    def prefix_cache(self, ids: Tensor, lengths: Tensor | None = None) -> "TitanDecodeCache":
        """Contexts ids [B, L] → the exactly reusable part of their forward: primer and stream buffers over the
        L positions, each row's length, and every reusable block's Mamba state after that length."""
        lengths = full_lengths(ids, lengths)
        run = _StatefulBlocks(None)
        primer, x = self._causal_prefix(ids, lengths, padding_mask(lengths, ids.shape[1]), run)
        return TitanDecodeCache(primer=primer, stream=x, lengths=lengths, conv=tuple(run.conv), ssm=tuple(run.ssm))

    def hidden_extended(self, cache: RecurrentState, ids: Tensor, lengths: Tensor) -> Tensor:
        """Each row's cached tokens followed by its first lengths[b] tokens of ids [B, L'] (L' may be 0) → the
        stream entering norm_f over those whole rows [B, W, d], W = the longest row; equals `hidden` of the
        concatenated rows up to float rounding. Scoring uses it to run a context's reusable blocks once for all of
        its continuations."""
        cache = _decode_cache(cache)
        return self._rest_hidden(self._extend(cache, ids, lengths) if ids.shape[1] else cache)

    def begin_decode(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, "TitanDecodeCache"] | None:
        """Prompts ids [B, L] → (logits at each row's last real position [B, V], cache). None while telemetry
        hooks that need whole forwards are attached (`hooks_attached`: recorders then see the full recompute they
        expect); fast-path-safe recorders such as `RouteTotals` keep it on."""
        if self.hooks_attached():
            return None
        cache = self.prefix_cache(ids, lengths)
        return self._decode_logits(cache), cache

    def continue_decode(self, ids: Tensor, cache: RecurrentState) -> tuple[Tensor, "TitanDecodeCache"]:
        """Append ids [B] (one token per row) → (next-token logits [B, V], the extended cache)."""
        one = torch.ones(ids.shape[0], dtype=torch.long, device=ids.device)
        cache = self._extend(_decode_cache(cache), ids[:, None], one)
        return self._decode_logits(cache), cache

    def _extend(self, cache: "TitanDecodeCache", ids: Tensor, lengths: Tensor) -> "TitanDecodeCache":
        """Advance the reusable blocks over each row's first lengths[b] tokens of ids [B, L'] from the cached
        Mamba states and write their outputs after the row's cached positions (a row with 0 tokens keeps its
        states: Δ = 0 and the conv window unchanged on padding)."""
        mask = padding_mask(lengths, ids.shape[1])
        run = _StatefulBlocks(cache)
        primer_new, x_new = self._causal_prefix(ids, lengths, mask, run)
        total = cache.lengths + lengths
        need = int(total.max())
        rows, cols = mask.nonzero(as_tuple=True)
        at = (rows, cache.lengths.index_select(0, rows) + cols)
        primer = _grown(cache.primer, need).index_put(at, primer_new[rows, cols])
        stream = _grown(cache.stream, need).index_put(at, x_new[rows, cols])
        return TitanDecodeCache(primer=primer, stream=stream, lengths=total, conv=tuple(run.conv), ssm=tuple(run.ssm))

    def _rest_hidden(self, cache: "TitanDecodeCache") -> Tensor:
        """The non-reusable rest over the cached rows → the stream entering norm_f [B, longest row, d]."""
        width = int(cache.lengths.max())
        mask = padding_mask(cache.lengths, width)
        return self._after_prefix(cache.primer[:, :width], cache.stream[:, :width], cache.lengths, mask)

    def _decode_logits(self, cache: "TitanDecodeCache") -> Tensor:
        h = self._rest_hidden(cache)
        return self.head(h[torch.arange(h.shape[0], device=h.device), cache.lengths - 1])

    def _layers(self, indices: range, x: Tensor, g: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """Backbone layers `indices` with the CP injection g [B, 1, d] after every sixth layer (global index)."""
        for j in indices:
            x = self.taps[f"layer_{j}"](self.layers[j](x, lengths, mask))
            if (j + 1) % CP_EVERY == 0:
                x = x + g
        return x

    def _arms(self, x: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """Router, bridge, arms and blackboard on the mid stream x [B, L, d] → collapse c [B, L, d]."""
        weights, chosen = route_top_k(self.domain_router(x), TOP_K)
        weights = self.route_tap(weights, chosen, lengths)
        b = self.taps["bridge"](self.bridge(x))
        arms = [partial(self._arm, k, lengths=lengths, mask=mask) for k in range(self.cfg.mimo_paths)]
        return collapse_arms(b, weights, arms, self.bb_write, self.bb_read, BLACKBOARD_THRESHOLD)

    def _arm(self, k: int, b: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        return self.taps[f"arm_{k}"](self.mimo_reasoning_blocks[k](b, lengths, mask))

    def checks(self) -> dict[str, Any]:
        """Spec §6.1 facts about the loaded weights: parameter count vs the architecture's, the trained
        `backbone_gate` value (never read by the forward), and whether every backbone LayerNorm bias is zero
        (true for weights transferred from Mamba-1's bias-free RMSNorm and kept frozen)."""
        return {
            "n_parameters": sum(p.numel() for p in self.parameters()),
            "expected_n_parameters": expected_parameter_count(self.cfg),
            "backbone_gate": float(self.backbone_gate.detach().float()),
            "layer_norm_biases_zero": all(bool((layer.norm.bias == 0).all()) for layer in self.layers),
        }
