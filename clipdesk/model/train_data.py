"""Batches of (pixels, token ids) for contrastive training, reproducible by (seed, step)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

import torch
from PIL import Image

from clipdesk.model.preprocess import PreprocessConfig, Preprocessor
from clipdesk.model.tokenizer import ClipTokenizer


class PairSource(Protocol):
    """Anything indexable giving (image, caption) pairs."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> tuple[Image.Image, str]: ...


def batch_indices(n: int, batch_size: int, seed: int, step: int, shuffle: bool = True) -> list[int]:
    """The pair indices of batch ``step``: epochs are seeded permutations, last partial batch
    dropped (a smaller set than one batch is used whole). Without ``shuffle``, batch k is items
    k*batch_size onwards, for sources that arrange their batches themselves."""
    if n <= batch_size:
        return list(range(n))
    per_epoch = n // batch_size
    epoch, k = divmod(step, per_epoch)
    if not shuffle:
        return list(range(k * batch_size, (k + 1) * batch_size))
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    perm = torch.randperm(n, generator=gen)
    return perm[k * batch_size : (k + 1) * batch_size].tolist()


class _StepSampler:
    def __init__(
        self, n: int, batch_size: int, seed: int, start: int, stop: int, shuffle: bool
    ) -> None:
        self.n, self.batch_size, self.seed, self.start, self.stop = n, batch_size, seed, start, stop
        self.shuffle = shuffle

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for step in range(self.start, self.stop):
            yield batch_indices(self.n, self.batch_size, self.seed, step, self.shuffle)


class _Collate:
    """Runs in the loader's workers: preprocess the images, tokenise the captions."""

    def __init__(self, tokenizer: ClipTokenizer, preprocess: PreprocessConfig) -> None:
        self.tokenizer = tokenizer
        self.preprocessor = Preprocessor(preprocess)

    def __call__(
        self, items: Sequence[tuple[Image.Image, str]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images = [img for img, _ in items]
        texts = [text for _, text in items]
        return self.preprocessor.batch(images), self.tokenizer(texts)


class PairBatches:
    def __init__(
        self,
        pairs: PairSource,
        tokenizer: ClipTokenizer,
        preprocess: PreprocessConfig,
        batch_size: int,
        seed: int,
        shuffle: bool = True,
    ) -> None:
        self.pairs = pairs
        self.shuffle = shuffle
        self.collate = _Collate(tokenizer, preprocess)
        self.batch_size = batch_size
        self.seed = seed

    def loader(
        self, start: int, stop: int, num_workers: int = 0
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Batches for steps ``start`` .. ``stop - 1``: (pixels [b, 3, S, S], ids [b, L])."""
        sampler = _StepSampler(
            len(self.pairs), self.batch_size, self.seed, start, stop, self.shuffle
        )
        if num_workers <= 0:
            for idx in sampler:
                yield self.collate([self.pairs[i] for i in idx])
            return
        # torch types ``dataset`` as its Dataset class, but a map-style loader only needs
        # __getitem__ and __len__, which PairSource has.
        loader: torch.utils.data.DataLoader[tuple[Image.Image, str]] = torch.utils.data.DataLoader(
            self.pairs,  # type: ignore[arg-type]
            batch_sampler=sampler,
            collate_fn=self.collate,
            num_workers=num_workers,
            prefetch_factor=4,
            persistent_workers=False,
        )
        yield from loader
