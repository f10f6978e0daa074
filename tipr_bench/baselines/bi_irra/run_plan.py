"""What a training run trains, settled before any model is built: the dataset, its training pairs, the
config and tokenizer (from the options, or from last.pt on a resume) and the split that picks the epoch."""

from __future__ import annotations

from dataclasses import dataclass

from tipr_bench.baselines.bi_irra import checkpoint as ckpt
from tipr_bench.baselines.bi_irra.config import BiIrraConfig, get_config
from tipr_bench.baselines.bi_irra.data import Pair, load_pairs
from tipr_bench.baselines.bi_irra.keymap import position_convention, read_state_dict
from tipr_bench.baselines.bi_irra.options import TrainOptions
from tipr_bench.baselines.bi_irra.processes import check_global_batch
from tipr_bench.baselines.bi_irra.tokenizer import Tokenizer
from tipr_bench.baselines.usable_captions import split_captions
from tipr_bench.benchmark.store import Workspace
from tipr_bench.core.errors import UserError


@dataclass
class RunPlan:
    dataset: str
    files: ckpt.RunFiles
    pairs: list[Pair]  # the training pairs (English, target language) with a usable translation
    config: BiIrraConfig
    tokenizer: Tokenizer
    selection: str  # what chooses best.pt's epoch: "val" or "test"
    val_split: str  # the split that measures it: "test" when selecting on test or when there is no val split
    init_state: dict | None  # --init's weights, for a fresh run
    resumed: dict | None  # last.pt's payload, for --resume


def pick_dataset(ws: Workspace, dataset: str | None, lang: str) -> str:
    if dataset:
        return dataset
    slugs = ws.datasets_with(lang)
    if len(slugs) == 1:
        return slugs[0]
    if not slugs:
        raise UserError(f"no dataset in {ws.root} has {lang} translations; run `tipr-bench translate --lang {lang}`")
    raise UserError(f"several datasets have {lang} translations ({', '.join(slugs)}); pick one with --dataset")


def pick_val_split(ws: Workspace, dataset: str, lang: str, select_on: str) -> str:
    """The split that chooses the epoch: val, or test when asked (or when there is no val split)."""
    for split in ("val", "test") if select_on == "val" else ("test",):
        if split_captions(ws, dataset, split, lang).usable:
            return split
    raise UserError(f"{dataset} has no usable {select_on} captions in {lang}; ingest and translate that split")


def plan_run(ws: Workspace, opts: TrainOptions, world: int, notes: list[str]) -> RunPlan:
    """The run's plan; every request it cannot carry out is one UserError before any model is built."""
    dataset = pick_dataset(ws, opts.dataset, opts.lang)
    if not opts.resume:  # the settings and the batch's split into reference ranks, before any data is read
        planned = get_config(opts.config, dataset).with_overrides(**opts.config_overrides())
        check_global_batch(planned.batch_size, world, planned.rank_batch)
    files = ckpt.RunFiles.of(ws.root, opts.lang, dataset, opts.config)
    resumed = ckpt.load(files.last) if opts.resume and files.last.is_file() else None
    if opts.resume and resumed is None:
        raise UserError(f"--resume: no {files.last} yet; start without --resume")
    loaded = load_pairs(ws, dataset, "train", opts.lang)
    if loaded.left_out:
        notes.append(f"{loaded.left_out} train captions have no usable {opts.lang} translation and are left out")
    init_state = read_state_dict(opts.init) if opts.init is not None and resumed is None else None
    if resumed is not None:
        # the stored config wins; only --epochs may change (the cosine then stretches to the new end)
        config = BiIrraConfig.from_dict(resumed["config"]).with_overrides(epochs=opts.epochs)
        tokenizer = Tokenizer.from_spec(resumed["tokenizer"])
        select_on = resumed.get("selection", "val")
    else:
        config, tokenizer = _fresh_config(opts, dataset, init_state, loaded.pairs)
        select_on = opts.select_on
    check_global_batch(config.batch_size, world, config.rank_batch)
    val_split = pick_val_split(ws, dataset, opts.lang, select_on)
    selection = "test" if val_split == "test" else "val"
    if select_on == "val" and selection == "test":
        notes.append(f"{dataset} has no val split in {opts.lang}: selecting the best epoch on test")
    return RunPlan(dataset, files, loaded.pairs, config, tokenizer, selection, val_split, init_state, resumed)


def _fresh_config(opts: TrainOptions, dataset: str, init_state: dict | None,
                  pairs: list[Pair]) -> tuple[BiIrraConfig, Tokenizer]:
    """A new run's config and tokenizer: the named config with the options on top, the position
    convention of the weights it starts from, and the vocabulary of its tokenizer."""
    config = get_config(opts.config, dataset).with_overrides(**opts.config_overrides())
    if "position_ids" not in opts.settings:
        config = config.with_overrides(
            position_ids=position_convention(init_state, config.text_layers, opts.xlmr is not None))
    if opts.xlmr is not None:
        tokenizer = Tokenizer.from_xlmr_folder(opts.xlmr)
    else:
        tokenizer = Tokenizer.train([t for p in pairs for t in (p.en, p.tg)], config.sp_vocab_size)
    return config.with_overrides(vocab_size=tokenizer.vocab_size), tokenizer
