"""ArrowEngine: runs a model — an original Hugging Face folder, a GGUF, another library's quantised
checkpoint or an ArrowQuant model — through the same C++ engine as the command line."""
from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import _core


class ArrowEngine:
    """A model opened for running.

    weights: "auto", "packed" (quantised weights stay in the mapped file), "packed-copy" or "float";
    activations: "auto", "f32" or "int8"; kernel_fallback: "auto" (refuse), "f32" or "int8".
    """

    def __init__(self, path: str | os.PathLike, *, weights: str = "auto", activations: str = "auto",
                 kernel_fallback: str = "auto", threads: int = 0) -> None:
        self._engine = _core.Engine(os.fspath(path), weights, activations, kernel_fallback, threads)

    # --- what it is -------------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self._engine.model_path

    @property
    def architecture(self) -> str:
        return self._engine.architecture

    @property
    def is_decoder(self) -> bool:
        return self._engine.is_decoder

    @property
    def embedding_dim(self) -> int:
        return self._engine.embedding_dim

    @property
    def max_length(self) -> int:
        return self._engine.max_length

    @property
    def vocab_size(self) -> int:
        return self._engine.vocab_size

    @property
    def packed_weights(self) -> bool:
        return self._engine.packed_weights

    def __repr__(self) -> str:
        return f"ArrowEngine({self.path!r}, architecture={self.architecture!r})"

    # --- encoders ---------------------------------------------------------------------------------
    def encode(self, sentences: str | Sequence[str], batch_size: int = 32, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool | None = None, *,
               normalize: bool = True, progress: Callable[[float, str], Any] | None = None) -> np.ndarray:
        """Sentence embeddings, float32 [n, dim] (one row, [dim], for a single string), as
        sentence-transformers' encode takes its common arguments. The array owns the C++ result: no
        copy is made. normalize (or normalize_embeddings) scales each row to unit length, in place."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        if progress is None and show_progress_bar:
            progress = _print_progress
        out = self._engine.encode(texts, batch_size, progress)
        if normalize_embeddings if normalize_embeddings is not None else normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.divide(out, np.maximum(norms, 1e-12), out=out)
        if not convert_to_numpy:
            import torch  # only when asked for tensors
            return torch.from_numpy(out[0] if single else out)
        return out[0] if single else out

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self._engine.tokenize(list(texts))

    # --- decoders ---------------------------------------------------------------------------------
    def logits(self, ids: Sequence[int]) -> np.ndarray:
        """float32 logits [len(ids), vocab] at every position (the C++ result, not copied)."""
        return self._engine.logits([int(i) for i in ids])

    def generate(self, prompt: str, *, max_tokens: int = 128, temperature: float = 0.8, top_k: int = 40,
                 top_p: float = 0.95, seed: int = 0, stop_tokens: Sequence[str] = (),
                 on_token: Callable[[str, int], Any] | None = None) -> dict[str, Any]:
        """A continuation of prompt: {"text", "ids", "prompt_ids", "stop_reason", timings}. on_token(text,
        id) sees each token as it is chosen; returning False stops."""
        return self._engine.generate(prompt, max_tokens, temperature, top_k, top_p, seed, list(stop_tokens), on_token)

    def stream(self, prompt: str, **options: Any) -> Iterator[str]:
        """The tokens of generate() as they come (a worker thread runs the model). Leaving the loop early
        stops the generation."""
        tokens: queue.Queue = queue.Queue()
        stop = threading.Event()
        done = object()
        failure: list[BaseException] = []

        def on_token(text: str, _id: int) -> bool:
            tokens.put(text)
            return not stop.is_set()

        def run() -> None:
            try:
                self.generate(prompt, on_token=on_token, **options)
            except BaseException as e:  # handed to the consumer
                failure.append(e)
            finally:
                tokens.put(done)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            while (item := tokens.get()) is not done:
                yield item
        finally:
            stop.set()
            worker.join()
        if failure:
            raise failure[0]

    # --- asyncio: the same calls on a worker thread (the C++ work runs without the GIL) --------------
    async def encode_async(self, sentences: str | Sequence[str], **options: Any) -> np.ndarray:
        """encode() on a worker thread; cancelling the awaiting task stops it at the next batch."""
        stop = threading.Event()
        user = options.pop("progress", None)

        def progress(fraction: float, message: str) -> bool:
            return not stop.is_set() and (user is None or user(fraction, message) is not False)

        return await _cancellable(lambda: self.encode(sentences, progress=progress, **options), stop)

    async def generate_async(self, prompt: str, **options: Any) -> dict[str, Any]:
        """generate() on a worker thread; cancelling the awaiting task stops it at the next token."""
        stop = threading.Event()
        user = options.pop("on_token", None)

        def on_token(text: str, token: int) -> bool:
            return not stop.is_set() and (user is None or user(text, token) is not False)

        return await _cancellable(lambda: self.generate(prompt, on_token=on_token, **options), stop)

    def perplexity(self, text: str, *, ctx: int = 512, stride: int = 0, chunks: int = 0,
                   progress: Callable[[float, str], Any] | None = None) -> dict[str, Any]:
        """Perplexity of a text (a string, or a path to a text file): llama.cpp's chunks of ctx tokens by
        default; the report `arrowquant ppl --format json` prints. progress(fraction, message) returning
        False cancels (Cancelled); Ctrl-C raises KeyboardInterrupt."""
        if os.path.isfile(text):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        return json.loads(self._engine.perplexity(text, ctx, stride, chunks, progress))


async def _cancellable(call: Callable[[], Any], stop: threading.Event) -> Any:
    """Awaits call() run on the default executor; on cancellation sets `stop` (which the call's
    callbacks watch) and waits for the worker to return before re-raising."""
    job = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        stop.set()
        try:
            await job
        except Exception:  # Cancelled from C++, or whatever the stopped call raised
            pass
        raise


def _print_progress(fraction: float, message: str) -> None:
    print(f"\r{message}: {fraction * 100:5.1f} %", end="\n" if fraction >= 1 else "", flush=True)


def validate(original: str | os.PathLike | ArrowEngine, quantized: str | os.PathLike | ArrowEngine, *,
             sentences: Sequence[str] = (), stsb: str | os.PathLike | None = None, max_pairs: int = 0,
             batch_size: int = 32) -> dict[str, Any]:
    """`arrowquant validate` as a dict: embedding cosine (mean, min, p5) of a quantised encoder against
    its original on `sentences` (default: the STS-B sentences of `stsb`), every layer's cosine, and both
    models' STS-B Spearman correlation when `stsb` (an STS-B TSV) is given."""
    a = original if isinstance(original, ArrowEngine) else ArrowEngine(original)
    b = quantized if isinstance(quantized, ArrowEngine) else ArrowEngine(quantized)
    return json.loads(_core.validate_encoders(a._engine, b._engine, list(sentences),
                                              os.fspath(stsb) if stsb else "", max_pairs, batch_size))
