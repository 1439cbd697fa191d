"""The four packs: DreamBench++, OmniContext, GEdit-Bench, ImagenHub. Every pin here is cited in
docs/packs.md (repo@commit:file:line, hub pages); ``None`` revisions are not pinned yet."""

from __future__ import annotations

from dataclasses import dataclass

from ibench.errors import IbenchError, unknown

from . import dreambench_plus, gedit, imagenhub, omnicontext
from .protocol import VIESCORE_SC
from .spec import AnchorFile, HubDataset, Judge, Pack


def _dreambench_pins() -> tuple[AnchorFile, ...]:
    sizes = {  # sha256, bytes of dreambench_plus/prompts/<name>.txt at the anchor commit
        "user_prompt_subject_full": ("01f964fa90af86ff9489f66775f642485f90c1351628b861e0f4fd26f300c00c", 2582),
        "gpt_prompt_subject_full": ("6e915593038f996827da4f087f0ea30bda2fffbd233eb0d5b93bd1a952af3b62", 1717),
        "user_prompt_style_full": ("d55d95c08ff59af37e384246d83b70bed8a7982e3d31da1e895dad29c8790b84", 2391),
        "gpt_prompt_style_full": ("734e58952797bc2b6aabbf0fb3e8a373ec7e9c48a473923ca23a484427ec7d4d", 1538),
        "user_prompt_text_full": ("7fca8de6285c01e337d1279b648d1c2fb46101af1327e7cf2a08053775362f32", 2500),
        "gpt_prompt_text_full": ("77622056433fcd4d91ca644d0ec1af04e4e59f0dcc86ec6169f52994b5be745a", 1584),
    }
    return tuple(AnchorFile(dreambench_plus.ANCHOR, dreambench_plus.COMMIT, f"dreambench_plus/prompts/{name}.txt",
                            digest, size) for name, (digest, size) in sizes.items())


def _viescore_pins() -> tuple[AnchorFile, ...]:
    q = "paper_implementation/_questions/"
    sizes = {
        "context.txt": ("ab4b97af5b826f742e82fe35fcb5474ee35caef995ea436415850873e67e25b2", 440),
        "prompts_0shot/rule_PQ.txt": ("cd929b5619a3ad9311e3054b80afca75f8ee407be89345c324be0b0ca8b5c96b", 780),
        "prompts_0shot/two_image_edit_rule.txt": ("369c6b21479e6a853ffe85b11186c9d5ee3ef7388b8c9b5866a434bf113d0f8f", 338),
        "prompts_0shot/tie_rule_SC.txt": ("5b9aa479977bc3175329e9ee14d75b55773080e87e3e2181721985be30db6cc6", 769),
        "prompts_0shot/subject_image_gen_rule.txt": (
            "148124c4ca78debab1bccbcf2f966e8bdb05c000280a73a30fd24a6c3ac723b0", 229),
        "prompts_0shot/sdig_rule_SC.txt": ("21191ef1d1ba56866bdba473089d38bbb6e4a1ba7565b45afd87527049dee008", 712),
        "prompts_0shot/multi_subject_image_gen_rule.txt": (
            "98c666b6549e33fb900cbb77f76a2ade4c1badeac51b1e99896e1c6fe4e473c5", 291),
        "prompts_0shot/msdig_rule_SC.txt": ("45e1407d5b6aeabe451627749a807e9868a8f11334320be7996d3b7b7d8354c7", 1223),
        "prompts_0shot/control_image_gen_rule.txt": (
            "3bd0f4b40be1924feeaa5c746ae6f592e177ed4cfbad1de49a54bdfea614b522", 270),
        "prompts_0shot/cig_rule_SC.txt": ("bf18ff214660d579f0e42fcedd142caa580999b9bb6809524aaef3ab2b3448c3", 635),
        "prompts_0shot/subject_image_edit_rule.txt": (
            "804c2b6220ffbec79ebfa50415bae0dd1e1855ac7e68e9c2c4eaee6c3023baef", 337),
        "prompts_0shot/sdie_rule_SC.txt": ("390bb22c400f8b733bb4ae11dd79ddb71ecc76e16cc89ecb761fd1d63e03658c", 791),
    }
    needed = {f for files, _ in VIESCORE_SC.values() for f in files} | {"prompts_0shot/rule_PQ.txt", "context.txt"}
    assert needed == set(sizes)
    return tuple(AnchorFile(imagenhub.VIESCORE, imagenhub.VIESCORE_COMMIT, q + name, digest, size)
                 for name, (digest, size) in sizes.items())


def _gpt41(questions: tuple[str, ...], calls_per_sample: int, prompt: AnchorFile, reply: str, source: str) -> Judge:
    """The gpt-4.1 judges (OmniContext, GEdit-Bench): the undated alias, max_tokens 1400, no temperature."""
    return Judge(model="gpt-4.1", temperature=None, max_tokens=1400, questions=questions,
                 calls_per_sample=calls_per_sample, repeats=1, prompts=(prompt,), reply=reply, source=source)


DREAMBENCH_PLUS = Pack(
    name="dreambench_plus", title="DreamBench++", paper="arXiv:2406.16855 (ICLR 2025)",
    anchor_repo=dreambench_plus.ANCHOR, anchor_commit=dreambench_plus.COMMIT, anchor_licence="Apache-2.0",
    datasets=(HubDataset(
        dreambench_plus.DATASET, "459b06499fad3dac842c4b1f7a053fb3328d91c7", ("data.zip",), "Apache-2.0",
        pins={"data.zip": ("fabdaac1cbff6826c226e874902193ac7965e29b6c1644e983551c980ec82a33", 15061282)}),),
    size="150 images (animal, human, object, style) x 9 prompts = 1350 samples; data.zip 15.1 MB",
    samples=1350,
    judge=Judge(model="gpt-4o-2024-05-13", temperature=1.0, max_tokens=None, questions=("cp", "pf"),
                calls_per_sample=2, repeats=3, prompts=_dreambench_pins(), reply="score_line", scale=4,
                source="yuangpeng/dreambench_plus@66ca27e:dreambench_plus/eval_concept_preservation.py:144-150,"
                       " constants.py:24, benchmarking.py:69"),
    headline="CP and PF (0-1, mean of 3 GPT-4o runs); CP x PF", family="in_domain",
    aggregate=dreambench_plus.aggregate, convert=dreambench_plus.convert,
    headlines=dreambench_plus.headlines, counts=dreambench_plus.counts, strata=dreambench_plus.STRATA,
    unit=dreambench_plus.UNIT,
    notes=("the anchor samples its judge at temperature 1 with a random seed per call: its three runs differ",
           "data.zip's folder layout is the anchor loader's (images/, captions/); checked on the fake only"),
)

OMNICONTEXT = Pack(
    name="omnicontext", title="OmniContext", paper="arXiv:2506.18871 (OmniGen2)",
    anchor_repo=omnicontext.ANCHOR, anchor_commit=omnicontext.COMMIT, anchor_licence="Apache-2.0",
    datasets=(HubDataset(omnicontext.DATASET, None, ("*.parquet", "*.arrow"), "not stated on the pages checked",
                         note="revision, licence and file layout not verified from here: pin at the first fetch"),),
    size="task types single/multiple/scene x character/object; sample count counted at fetch", samples=0,
    judge=_gpt41(("pf", "sc"), 6, AnchorFile(omnicontext.ANCHOR, omnicontext.COMMIT, "omnicontext/prompt_generator.py",
                                             "a8f2976f9ceff9f0ae7d80f604dd272d491f846ab434fa033530c797583505a1", 8922),
                 "json_score",
                 "VectorSpaceLab/OmniGen2@0f72fa9:omnicontext/openai_util.py:73-79, omnicontext_score.py:17-50"),
    headline="overall O = mean over task types of mean sqrt(PF x SC), 0-10 (English)", family="zero_shot",
    aggregate=omnicontext.aggregate, convert=omnicontext.convert,
    headlines=omnicontext.headlines, counts=omnicontext.counts, strata=omnicontext.STRATA,
    unit=omnicontext.UNIT,
    notes=("the anchor's scorer asks PF and SC three times per sample and keeps the last parse (no break in "
           "its retry loop, omnicontext_score.py:20-36); ibench asks once and re-asks only a failed reply",
           "the anchor's judge is the undated alias gpt-4.1: pin a dated snapshot for reproducible numbers"),
)

GEDIT_BENCH = Pack(
    name="gedit_bench", title="GEdit-Bench", paper="arXiv:2504.17761 (Step1X-Edit)",
    anchor_repo=gedit.ANCHOR, anchor_commit=gedit.COMMIT, anchor_licence="Apache-2.0",
    datasets=(HubDataset(gedit.DATASET, "58159f3de6689982b1df7f1a6c557ded16548a24", ("*.arrow", "*.parquet", "*.json"),
                         "MIT", note="format listed by the hub as arrow; 58159f3 seen as a commit of the repo"),),
    size="606 edits x 2 instruction languages (en, cn) = 1212 rows, 11 categories", samples=1212,
    judge=_gpt41(("sc", "pq"), 2, AnchorFile(gedit.ANCHOR, gedit.COMMIT, "GEdit-Bench/viescore/vie_prompts.py",
                                             "010234af186eb0a70fcb99047cd32ad1da01bed59ca1a95a01335426417cf838", 22101),
                 "json_score_list", "stepfun-ai/Step1X-Edit@570eba6:GEdit-Bench/viescore/__init__.py:18-20, :41-95"),
    headline="G_SC, G_PQ, G_O (0-10) on GEdit-Bench-EN, full set and intersection", family="editing",
    aggregate=gedit.aggregate, convert=gedit.convert,
    headlines=gedit.headlines, counts=gedit.counts, strata=gedit.STRATA,
    unit=gedit.UNIT,
    notes=("the maintainers report GPT-4.1 drift of about 0.1 between runs and month-to-month changes "
           "(stepfun-ai/Step1X-Edit issue #74); Azure's content filter refuses some requests (issue #143)",),
)

IMAGENHUB = Pack(
    name="imagenhub", title="ImagenHub (VIEScore)", paper="arXiv:2310.01596 (ICLR 2024); VIEScore arXiv:2312.14867",
    anchor_repo=imagenhub.ANCHOR, anchor_commit=imagenhub.COMMIT, anchor_licence="MIT",
    datasets=(HubDataset(imagenhub.TIE, "c50bd52ce58e05da8a3976398368600455d7ae3d", ("data/filtered-*",), "CC-BY-4.0"),
              HubDataset(imagenhub.SDIG, None, ("data/eval-*",), "not checked"),
              HubDataset(imagenhub.CONCEPTS, None, ("data/train-*",), "not checked"),
              HubDataset(imagenhub.MSDIG, None, ("data/train-*",), "not checked"),
              HubDataset(imagenhub.MULTI_CONCEPTS, None, ("data/train-*",), "not checked"),
              HubDataset(imagenhub.CIG, None, ("data/eval-*",), "not checked"),
              HubDataset(imagenhub.SDIE, None, ("data/eval-*",), "not checked")),
    size="text-guided IE 179, subject-driven IG 150, multi-concept 102, control-guided 60 of 150 (canny, depth), "
         "subject-driven IE 154 (src/imagen_hub/loader/benchmark_loader.py docstrings)", samples=645,
    judge=Judge(model="gpt-4o-2024-05-13", temperature=None, max_tokens=1400, questions=("sc", "pq"),
                calls_per_sample=2, repeats=1, prompts=_viescore_pins(), reply="json_score_list",
                source="TIGER-AI-Lab/VIEScore@2cbea4e:paper_implementation/run.py:48-110,"
                       " mllm_tools/openai.py:128-137, :175-177"),
    headline="VIEScore SC, PQ and O = mean sqrt(SC x PQ) (0-1) per sub-task",
    family="in_domain", aggregate=imagenhub.aggregate, convert=imagenhub.convert,
    headlines=imagenhub.headlines, counts=imagenhub.counts, strata=imagenhub.STRATA,
    unit=imagenhub.UNIT,
    subsets={"text_guided_ie": "editing", "subject_driven_ig": "in_domain", "multi_concept_ic": "zero_shot",
             "control_guided_ig": "in_domain", "subject_driven_ie": "editing"},
    notes=("control types other than canny and depth, the mask-guided and the text-to-image sets are not "
           "converted (no ibench control type / no reference)",),
)

PACKS: dict[str, Pack] = {p.name: p for p in (DREAMBENCH_PLUS, OMNICONTEXT, GEDIT_BENCH, IMAGENHUB)}


def get_pack(name: str) -> Pack:
    """A benchmark pack by name; an unknown name is one line with a did-you-mean (over every pack)."""
    if name not in PACKS:
        entry = lookup(name)
        raise IbenchError(f"pack {name!r} is a {entry.kind} pack ({entry.title}), not a benchmark: `ibench data fetch "
                          f"--pack {name}` fetches it, `ibench judge meta --pack {name}` reads it")
    return PACKS[name]


# -- one registry of every pack: the benchmarks (here) and the judge-data packs (ibench.data.packs) -------------

BENCHMARK, JUDGE_DATA = "benchmark", "judge-data"


@dataclass(frozen=True)
class Entry:
    """One row of ``ibench list packs``: what ``ibench data fetch --pack NAME`` fetches."""

    name: str
    kind: str  # benchmark (a test set to generate and judge) | judge-data (released ratings and judge verdicts)
    title: str
    source: str
    revision: str
    size: str
    licence: str
    judge: str

    def row(self) -> dict:
        return dict(vars(self))


def _benchmark(p: Pack) -> Entry:
    j = p.judge
    judge = (f"{j.model}{f', temperature {j.temperature:g}' if j.temperature is not None else ''}"
             f"{f', {j.repeats} runs' if j.repeats > 1 else ''}; "
             f"{'/'.join(q.upper() for q in j.questions)} 0-{j.scale}")
    return Entry(p.name, BENCHMARK, p.title, f"{p.anchor_repo}@{p.anchor_commit[:7]}", p.revision, p.size,
                 p.licence, judge)


def _judge_data(p) -> Entry:  # noqa: ANN001 - ibench.data.packs.Pack
    from ibench.data.fetch import read_manifest

    rows = read_manifest(p.manifest())
    repo, _, rest = p.source.partition("@")
    return Entry(p.name, JUDGE_DATA, p.about, repo.removeprefix("github.com/"), rest.split()[0][:12],
                 f"{len(rows)} files, {sum(r.size for r in rows) / 1e6:.1f} MB", p.licence, "(released verdicts)")


def entries() -> list[Entry]:
    """Every pack, benchmarks first; a name used twice is refused (one ``--pack`` option names them all)."""
    from ibench.data.packs import PACKS as DATA_PACKS

    out = [_benchmark(p) for p in PACKS.values()] + [_judge_data(p) for p in DATA_PACKS.values()]
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise IbenchError(f"pack names clash: {sorted({n for n in names if names.count(n) > 1})}")
    return out


def lookup(name: str) -> Entry:
    """A pack of either kind by name; an unknown name is one line with a did-you-mean over all of them."""
    found = {e.name: e for e in entries()}
    if name not in found:
        raise unknown("pack", name, list(found))
    return found[name]
