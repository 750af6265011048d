"""Token targets for MDETR: soft-token distributions and binary query-token maps from positive maps.

MDETR predicts, for every query, a distribution over ``num_tokens`` slots: the token positions of the caption
followed by one "no-object" slot, which is the last slot (the official model has 256 slots: 255 token
positions plus no-object). A matched query's target is 1 on every token of its phrase (the official training
path: its ``collate_fn`` turns the normalised map into a 0/1 one) or, optionally, uniform over them (the
paper's description); an unmatched query's target is all on no-object.
"""
import torch
from torch import Tensor


def soft_token_targets(positive_maps: Tensor, eps: float = 1e-6) -> Tensor:
    """Normalise a positive map so that each phrase's row is a uniform distribution over its tokens.

    Args:
        positive_maps (Tensor): ``[num_phrases, num_tokens]``, non-zero where a phrase covers a token
            (binary or already normalised).

    Returns:
        Tensor: ``[num_phrases, num_tokens]`` float rows summing to 1 (rows without tokens stay 0).
    """
    binary = (positive_maps > 0).float()
    return binary / (binary.sum(-1, keepdim=True) + eps)


def soft_token_target_matrix(num_queries: int, num_tokens: int, matched_queries: Tensor,
                             matched_maps: Tensor, normalize: bool = False) -> Tensor:
    """Build the per-query soft-token target of one image.

    Args:
        num_queries (int): Number of decoder queries ``Q``.
        num_tokens (int): Number of soft-token slots ``T`` (the last one is no-object).
        matched_queries (Tensor): ``[M]`` long, the queries matched to a ground-truth box.
        matched_maps (Tensor): ``[M, T]``, the positive map of each matched query's box (its last column,
            the no-object slot, must be empty).
        normalize (bool): Matched rows uniform over their phrase's tokens; False gives them the 0/1 map
            (what the official criterion receives from its ``collate_fn``).

    Returns:
        Tensor: ``[Q, T]``; unmatched rows are one-hot on the no-object slot, matched rows 1 on each of their
        phrase's tokens (or uniform over them with ``normalize``).
    """
    target = matched_maps.new_zeros((num_queries, num_tokens))
    target[:, -1] = 1.0
    if len(matched_queries):
        binary = (matched_maps > 0).to(target.dtype)
        target[matched_queries] = soft_token_targets(matched_maps) if normalize else binary
    return target


def query_token_map(num_queries: int, num_tokens: int, matched_queries: Tensor,
                    matched_maps: Tensor) -> Tensor:
    """Binary map saying which text tokens each query must align with (contrastive alignment targets).

    Args:
        num_queries (int): Number of decoder queries ``Q``.
        num_tokens (int): Number of token positions ``L`` of the encoded caption (padded length).
        matched_queries (Tensor): ``[M]`` long, the queries matched to a ground-truth box.
        matched_maps (Tensor): ``[M, T]`` positive maps of their boxes (``T >= L``).

    Returns:
        Tensor: ``[Q, L]`` bool, True where query q is aligned with token t.
    """
    out = torch.zeros((num_queries, num_tokens), dtype=torch.bool, device=matched_maps.device)
    if len(matched_queries):
        out[matched_queries] = matched_maps[:, :num_tokens] > 0
    return out
