"""The ``transformers`` judge backend: any chat VLM that ``AutoModelForImageTextToText`` + ``AutoProcessor``
load (Qwen2/2.5/3-VL, InternVL, Gemma 3, Idefics3, ...), batched, bf16 on a GPU.

``generate`` decodes a reply (greedy at temperature 0). ``logprob`` appends the reply's opening
(``{"score": ``) to the prompt and reads, in one forward pass, the probability of every allowed answer
at the answer position (``ChoiceReader``); the verdict is their expected value (scores) or the most
probable answer (pairwise): deterministic and never unparseable. Weights come from a local folder, the
Hugging Face cache or the hub; offline and missing, one line says what to download.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any, ClassVar, Literal, Optional

from pydantic import Field

from ibench.errors import IbenchError
from ibench.weights import download_error, offline

from .backend import Backend, BackendSettings, Reply, prepare_image
from .parse import CHOICES, answer_prefix
from .prompts import Query

COMMIT = re.compile(r"^[0-9a-f]{40}$")


def judge_weights(model: str, revision: Optional[str]) -> tuple[str, str]:
    """(local folder, the revision that pins it): a commit from the HF cache, else a fingerprint of the folder."""
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path), revision or folder_fingerprint(path)
    if model.startswith((".", "/", "~")):
        raise IbenchError(f"judge model folder {path} not found (check `model` in the judge config)")
    from huggingface_hub import snapshot_download

    at = f" --revision {revision}" if revision else ""
    try:
        local = snapshot_download(model, revision=revision, local_files_only=True)
    except Exception:  # noqa: BLE001 - any miss in the cache means "not cached"
        local = None
    if local is None and offline():
        raise IbenchError(f"judge model '{model}'{at} is not in the Hugging Face cache and HF_HUB_OFFLINE is set: on "
                          f"a machine with internet run `hf download {model}{at}` (or unset HF_HUB_OFFLINE), or set "
                          f"`model:` in the judge config to a local folder")
    if local is None:
        try:
            local = snapshot_download(model, revision=revision)
        except Exception as exc:  # noqa: BLE001
            raise download_error(model, "judge model", exc) from None
    name = Path(local).name
    return local, revision or (name if COMMIT.match(name) else folder_fingerprint(Path(local)))


def folder_fingerprint(folder: Path, block: int = 1 << 20) -> str:
    """``local:<hash>`` of a weights folder: every file's name, size, first and last MiB (cheap for 15 GB of
    weights, and different for different weights of the same shapes)."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            h.update(f"{p.relative_to(folder)}\x1f{size}\n".encode())
            with open(p, "rb") as f:
                h.update(f.read(block))
                if size > 2 * block:
                    f.seek(size - block)
                    h.update(f.read(block))
    return f"local:{h.hexdigest()[:16]}"


class ChoiceReader:
    """Where each allowed answer lies in the vocabulary after the reply's opening.

    Every answer must start with a token of its own, except one group sharing a first token F (``1`` and
    ``10`` when digits are single tokens): those are told apart by the token after F, read at the next
    position of the same forward pass (the input ends with F). Answer ``1`` then has the mass of F not
    followed by another digit. Anything else (answers of more tokens sharing a start) is refused.
    """

    def __init__(self, tokenizer: Any, answer: str):
        def ids(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

        prefix = answer_prefix(answer)
        self.choices = CHOICES[answer]
        enc = {c: ids(prefix + c) for c in self.choices}
        n = min(len(v) for v in enc.values())
        common = next((i for i in range(n) if len({tuple(v[: i + 1]) for v in enc.values()}) > 1), n)
        rests = {c: v[common:] for c, v in enc.items()}
        if any(not r for r in rests.values()):
            raise self._unsupported(answer, rests, tokenizer)
        groups: dict[int, list[str]] = {}
        for c, r in rests.items():
            groups.setdefault(r[0], []).append(c)
        shared = [f for f, cs in groups.items() if len(cs) > 1]
        self.first = {c: r[0] for c, r in rests.items()}
        self.second: dict[str, Optional[int]] = {}
        self.probe_text, self.probe = "", None  # the answer whose token is the probe, and that token
        if len(shared) > 1:
            raise self._unsupported(answer, rests, tokenizer)
        if shared:
            members = groups[shared[0]]
            ends = [c for c in members if len(rests[c]) == 1]
            longer = [c for c in members if len(rests[c]) != 1]
            if len(ends) != 1 or any(len(rests[c]) != 2 for c in longer) or len({rests[c][1] for c in longer}) < len(longer):
                raise self._unsupported(answer, rests, tokenizer)
            self.probe, self.probe_text = shared[0], ends[0]
            self.second = {c: (rests[c][1] if c in longer else None) for c in members}
        self.continuations = sorted({r[0] for r in rests.values()} | {r[1] for r in rests.values() if len(r) > 1})
        # the input ends with these tokens: the common opening, plus the probe token when there is one
        self.tail = enc[self.probe_text][: common + 1] if self.probe is not None else enc[self.choices[0]][:common]
        self.suffix = tokenizer.decode(self.tail)

    @staticmethod
    def _unsupported(answer: str, rests: dict, tokenizer: Any) -> IbenchError:
        shown = ", ".join(f"{c}->{tokenizer.convert_ids_to_tokens(r)}" for c, r in list(rests.items())[:11])
        return IbenchError(f"judge mode logprob: this tokenizer splits the {answer} answers in a way one forward pass "
                           f"cannot read ({shown}); use mode generate")

    def read(self, last2: "Any") -> tuple[dict[str, float], float]:
        """(normalised probability of each answer, raw mass of all answers) from the last two positions'
        probabilities (rows: the position before the probe token, the probe position)."""
        p0 = last2[0] if self.probe is not None else last2[-1]
        raw: dict[str, float] = {}
        for c in self.choices:
            if c not in self.second:
                raw[c] = float(p0[self.first[c]])
                continue
            p1 = last2[1]
            nxt = self.second[c]
            if nxt is None:  # the probe answer alone: the probe not followed by another digit-like token
                raw[c] = float(p0[self.probe]) * max(0.0, 1.0 - float(sum(p1[t] for t in self.continuations)))
            else:
                raw[c] = float(p0[self.probe]) * float(p1[nxt])
        mass = sum(raw.values())
        return ({c: v / mass for c, v in raw.items()} if mass > 0 else {c: 0.0 for c in raw}), mass


class TransformersSettings(BackendSettings):
    """The ``transformers`` backend's keys: where the model runs, in which precision, how many at once."""

    RUNTIME: ClassVar[frozenset[str]] = frozenset({"device", "batch_size"})

    device: str = "auto"
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = "auto"  # in the identity as resolved (bf16 on CUDA, fp32 on CPU)
    batch_size: int = Field(default=8, ge=1)


class TransformersBackend(Backend):
    name = "transformers"
    Settings = TransformersSettings
    modes = frozenset({"generate", "logprob"})

    def __init__(self, config):
        super().__init__(config)
        self.path, self._revision = judge_weights(config.model, config.revision)
        self.model = self.processor = self.tokenizer = None
        self.readers: dict[str, ChoiceReader] = {}

    def _placement(self) -> tuple[str, str]:
        import torch

        own = self.settings
        device = own.device if own.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        return device, own.dtype if own.dtype != "auto" else ("bf16" if device.startswith("cuda") else "fp32")

    def identity(self) -> dict:
        local = Path(self.config.model).expanduser().is_dir()  # a folder's path is no part of what it is
        return {"model": Path(self.config.model).name if local else self.config.model, "revision": self._revision,
                "dtype": self._placement()[1],
                "json_mode": False, "extra_body": {}}  # the openai backend's keys, kept so verdict keys stay as before

    @property
    def chunk(self) -> int:
        return self.settings.batch_size * 4

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        cfg = self.config
        device, dtype_name = self._placement()
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[dtype_name]
        try:
            self.processor = AutoProcessor.from_pretrained(self.path)
            self.model = AutoModelForImageTextToText.from_pretrained(self.path, dtype=dtype).to(device).eval()
        except (OSError, ValueError, KeyError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise IbenchError(f"could not load judge model {cfg.model!r} from {self.path}: {first[:300]}") from None
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device
        torch.manual_seed(cfg.seed)

    def reader(self, answer: str) -> ChoiceReader:
        if answer not in self.readers:
            self.readers[answer] = ChoiceReader(self.tokenizer, answer)
        return self.readers[answer]

    def _render(self, messages: list[dict]) -> tuple[list[dict], list]:
        out, images = [], []
        for m in messages:
            if isinstance(m["content"], str):
                out.append({"role": m["role"], "content": [{"type": "text", "text": m["content"]}]})
                continue
            parts = []
            for p in m["content"]:
                if p["type"] == "image":
                    images.append(prepare_image(p, self.config.image_max_side))
                    parts.append({"type": "image"})
                else:
                    parts.append({"type": "text", "text": p["text"]})
            out.append({"role": m["role"], "content": parts})
        return out, images

    def _inputs(self, batch: list[Query], suffix: str):
        texts, images = [], []
        for q in batch:
            messages, imgs = self._render(q.messages)
            texts.append(self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
                         + suffix)
            images.append(imgs)
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if any(images):
            kwargs["images"] = images
        return self.processor(**kwargs).to(self.device)

    def run(self, queries: list[Query]) -> list[Reply]:
        if self.model is None:
            self._load()
        out: list[Reply] = []
        step = self.settings.batch_size
        for start in range(0, len(queries), step):
            batch = queries[start:start + step]
            t0 = time.perf_counter()
            replies = self._logprob(batch) if self.config.mode == "logprob" else self._generate(batch)
            per = (time.perf_counter() - t0) / len(batch)
            for r in replies:
                r.seconds = per
            out += replies
        return out

    def _logprob(self, batch: list[Query]) -> list[Reply]:
        import torch

        answers = {q.answer for q in batch}
        if len(answers) > 1:  # one reader per forward pass: split mixed batches
            return [r for a in sorted(answers) for r in self._logprob([q for q in batch if q.answer == a])]
        reader = self.reader(batch[0].answer)
        inputs = self._inputs(batch, reader.suffix)
        ids = inputs["input_ids"]
        tail = torch.tensor(reader.tail, device=ids.device)
        if ids.shape[1] < len(tail) or not bool((ids[:, ids.shape[1] - len(tail):] == tail).all()):
            raise IbenchError("judge mode logprob: the chat template changes how the answer opening is tokenized; "
                              "use mode generate")
        with torch.inference_mode():
            logits = self.model(**inputs, logits_to_keep=2).logits[:, -2:, :]
        probs = torch.softmax(logits.float(), dim=-1).cpu()
        replies = []
        for row, n_prompt in zip(probs, inputs["attention_mask"].sum(dim=1).tolist()):
            p, mass = reader.read(row)
            replies.append(Reply(probs=p, mass=mass, prompt_tokens=int(n_prompt), completion_tokens=0))
        return replies

    def _generate(self, batch: list[Query]) -> list[Reply]:
        import torch
        from transformers import GenerationConfig

        cfg = self.config
        sampling = bool(cfg.temperature)  # None or 0: greedy
        seed = [cfg.seed if q.seed is None else q.seed for q in batch]
        if sampling and len(set(seed)) > 1:  # one seed per generate call: a batch of several is split, order kept
            out: dict[int, Reply] = {}
            for s in sorted(set(seed)):
                mine = [k for k, v in enumerate(seed) if v == s]
                out.update(zip(mine, self._generate([batch[k] for k in mine])))
            return [out[k] for k in range(len(batch))]
        inputs = self._inputs(batch, "")
        eos = self.model.generation_config.eos_token_id
        gen = GenerationConfig(max_new_tokens=cfg.max_new_tokens, do_sample=sampling,
                               temperature=cfg.temperature if sampling else None, top_p=None, top_k=None,
                               pad_token_id=self.tokenizer.pad_token_id, eos_token_id=eos)
        if sampling:
            torch.manual_seed(seed[0])
        with torch.inference_mode():
            out = self.model.generate(**inputs, generation_config=gen)
        new = out[:, inputs["input_ids"].shape[1]:].cpu()
        stops = set(eos if isinstance(eos, list) else [eos]) - {None}
        replies = []
        for row, n_prompt in zip(new.tolist(), inputs["attention_mask"].sum(dim=1).tolist()):
            end = next((i for i, t in enumerate(row) if t in stops), None)
            used = row[: end + 1] if end is not None else row
            text = self.tokenizer.decode(used, skip_special_tokens=True)
            replies.append(Reply(text=text, finish="stop" if end is not None else "length", prompt_tokens=int(n_prompt),
                                 completion_tokens=len(used)))
        return replies

    def close(self) -> None:
        self.model = None
