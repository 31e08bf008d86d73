"""Search benchmark: indexing rate, query latency, rebuild memory, recall vs Whoosh's default.

    .venv/bin/python bench/search.py --pages 100000 [--seed 7] [--workdir /tmp/docsvc-bench]

One run prints (and optionally writes as markdown) the figures docs/benchmarks.md records:
rebuild pages/s and peak RSS (the rebuild runs in a child process so its own RSS is measured),
incremental add_pages rate, p50/p95 latency of 50 mixed queries with facets, index size, and
recall on a query table of ours beside Whoosh's StandardAnalyzer on the same pages.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from docsvc.search import PageRecord, SearchIndex  # noqa: E402
from docsvc.search.analysis import normalize  # noqa: E402

DOC_TYPES = ["SQ", "ZJ", "HT", "SJ", "JL", "JC", "WY", "BG", "QT"]
TYPE_NAMES = {"SQ": "用电申请书", "ZJ": "身份证明", "HT": "供用电合同", "SJ": "竣工验收单", "JL": "计量装置装拆表工作单",
              "JC": "用电检查单", "WY": "违约用电处理记录", "BG": "客户信息变更单", "QT": "其他"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "建国华明丽军伟芳敏静强磊洋艳勇杰娟涛超秀英霞平刚桂兰志红春梅玉兵文斌辉东海波宁"
ROADS = ["城东路", "解放路", "人民大道", "中山北路", "滨江路", "工业园区纬三路", "新华街", "环城西路", "建设路", "湖滨南路"]
LINES = ["城东线", "江北线", "开发区Ⅱ线", "滨海线", "南湖支线", "工业一线", "新城线"]
COMPANIES = ["有限公司", "实业有限公司", "纺织厂", "食品有限公司", "机械制造厂", "物业管理有限公司"]
COMMON = [
    "本表一式两份，双方各执一份，自双方签字盖章之日起生效。",
    "双方应共同遵守国家有关电力供应与使用的法律法规和规章制度。",
    "用电人受电点位于{addr}，合同约定容量{cap}千伏安，用电类别为{cat}。",
    "经办人{name2}，联系电话{phone}，办理日期{date}。",
]
# each document type draws from its own sentences, so a phrase hits a realistic share of pages
SENTENCES = {
    "HT": ["本合同产权分界点位于{line}第{pole}号杆，分界点电源侧产权属供电人，负荷侧产权属用电人。",
           "供电人向用电人提供{volt}交流50赫兹电源，供电方式为{mode}。",
           "电费结算方式为{pay}，用电人应在每月{day}日前结清当月电费，逾期按日加收违约金。",
           "供电设施运行维护管理责任以产权分界点为界，各自负责其产权范围内设施的安全。",
           "用电人不得私自改变用电类别，不得擅自超过合同约定的容量用电。",
           "发生电力运行事故时，双方应及时通报并按照有关规定处理。"],
    "JL": ["计量方式为高供{meter_mode}，计量装置安装于{place}，电能表号{meter}，电流互感器变比{ct}。",
           "旧表止码{reading}，新表起码0，装表人员{name2}，客户确认签字。"],
    "JC": ["用电检查人员于{date}对用电人进行了现场检查，检查结果{result}。",
           "检查发现{place}运行正常，接地良好，警示标志齐全。"],
    "WY": ["经核实，用电人存在{violation}的行为，依据《供电营业规则》第一百条处理。",
           "追补电费{amount}元，违约使用电费{amount}元，已开具违约用电通知书。"],
    "BG": ["客户{name}因{reason}申请变更用电信息，原户名{name2}，变更后容量{cap}千伏安。"],
    "ZJ": ["申请人{name}，身份证号码{idno}，联系电话{phone}，用电地址{addr}。"],
    "SQ": ["申请人{name}申请{volt}新装用电，申请容量{cap}千伏安，用电地址{addr}。",
           "供电方案答复：由{line}供电，供电方式为{mode}。"],
    "SJ": ["受电工程竣工验收合格，同意于{date}送电，验收人员签字确认。",
           "设计单位依据供电方案完成受电工程设计，产权分界点设在{line}第{pole}号杆。"],
    "QT": ["其他资料：{reason}相关说明材料，共{pole}页。"],
}
VOLTS = ["10kV", "380V", "220V", "35kV", "110kV"]
MODES = ["高压单电源", "高压双电源", "低压单相", "低压三相四线"]
CATS = ["居民生活用电", "非居民照明", "大工业用电", "一般工商业用电", "农业生产用电"]
PAYS = ["银行代扣", "分次划拨", "预付费", "柜台缴费"]
RESULTS = ["正常", "存在安全隐患，已下达整改通知书", "计量装置封印完好", "发现接线异常"]
VIOLATIONS = ["私自增容", "绕越计量装置用电", "擅自改变用电类别", "私自迁移计量装置"]
REASONS = ["过户", "增容", "减容", "更名", "暂停"]
PLACES = ["配电室高压柜", "杆上计量箱", "低压进线柜", "用户变压器低压侧"]


class Corpus:
    """Deterministic synthetic customer files: documents of 1–6 pages, ~800 characters each."""

    def __init__(self, pages: int, seed: int):
        self.n = pages
        self.seed = seed

    def customer(self, rng: random.Random) -> tuple[str, str]:
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        if rng.random() < 0.3:
            name = rng.choice(ROADS)[:2] + name[1:] + rng.choice(COMPANIES)
        return name, f"33{rng.randrange(10**8):08d}"

    def pages(self, after: int | None = None):
        """Pages in ascending page_id; regenerates the whole stream and skips (deterministic)."""
        rng = random.Random(self.seed)
        page_id = 0
        document_id = 0
        while page_id < self.n:
            document_id += 1
            name, account = self.customer(rng)
            doc_type = rng.choice(DOC_TYPES)
            year = rng.randrange(2008, 2024)
            doc_date = date(year, rng.randrange(1, 13), rng.randrange(1, 29))
            contract = f"GD-{year}-{rng.randrange(10**6):06d}"
            refcode = f"J001-KH·{year}-D30-YX-{document_id % 10000:04d}"
            for number in range(1, rng.randrange(1, 7) + 1):
                page_id += 1
                if page_id > self.n:
                    return
                text = self.text(rng, name, account, contract, doc_date, doc_type)
                if after is not None and page_id <= after:
                    continue
                yield PageRecord(page_id=page_id, document_id=document_id, page_number=number, text=text,
                                 customer_account=account, customer_name=name, doc_type=doc_type,
                                 reference_code=refcode, doc_date=doc_date, sensitive=doc_type == "ZJ",
                                 title=f"{name}{TYPE_NAMES[doc_type]}")

    def text(self, rng, name, account, contract, doc_date, doc_type) -> str:
        fill = lambda: dict(  # noqa: E731
            line=rng.choice(LINES), pole=rng.randrange(1, 120), volt=rng.choice(VOLTS), mode=rng.choice(MODES),
            addr=f"{rng.choice(ROADS)}{rng.randrange(1, 999)}号", cap=rng.choice((50, 100, 200, 315, 400, 630, 1250)),
            cat=rng.choice(CATS), meter_mode=rng.choice(("高计", "低计")), place=rng.choice(PLACES),
            meter=f"{rng.randrange(10**12, 10**13)}", ct=f"{rng.choice((50, 100, 200, 400))}/5",
            pay=rng.choice(PAYS), day=rng.randrange(5, 26), date=f"{doc_date.year}年{doc_date.month}月{doc_date.day}日",
            result=rng.choice(RESULTS), violation=rng.choice(VIOLATIONS), name=name, name2=self.customer(rng)[0],
            reason=rng.choice(REASONS), idno=f"33010{rng.randrange(10**12, 10**13)}X",
            phone=f"13{rng.randrange(10**9):09d}", reading=f"{rng.randrange(100000)}.{rng.randrange(100)}",
            amount=rng.randrange(100, 90000))
        own = SENTENCES[doc_type]
        parts = [f"{TYPE_NAMES[doc_type]}\n户名：{name}  户号：{account}\n合同编号：{contract}\n"]
        while sum(map(len, parts)) < 800:
            parts.append(rng.choice(own if rng.random() < 0.7 else COMMON).format(**fill()))
            if rng.random() < 0.15:  # OCR-ish noise: full-width digits, tesseract spaces
                parts.append(" ".join(f"编号{contract}".translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))))
        return "".join(parts)[:820]


def query_table(corpus: Corpus) -> list[str]:
    """50 fixed mixed queries; identifiers are taken from the corpus so they hit."""
    sample = [p for _, p in zip(range(400), corpus.pages())]
    rng = random.Random(99)
    picks = rng.sample(sample, 12)
    queries = [
        "产权分界点", "本合同产权分界点位于", "产权分界点 10kV", '"电能表号"', "竣工验收合格", "私自增容",
        "绕越计量装置", "银行代扣", "王", "建国", "电流互感器变比", "高压双电源", "用电检查 隐患",
        "违约金 -银行代扣", "私自增容 OR 私自迁移计量装置", "类型:HT 产权分界点", "类型:JC 2019..2021", "2015..2016 过户",
        "类型:WY 绕越", "(增容 OR 减容) 类型:BG", "滨江路 配电室", "大工业用电 630", 
        "农业生产用电 -居民", "开发区Ⅱ线", "ＧＤ－２０１９", "供电营业规则 第一百条",
        "中山北路 食品有限公司", "变更后容量 1250", "不存在的词语组合",
        "NOT 供电", "年:2020 用电检查", "日期:2012-03..2013-06",
    ]
    for page in picks[:4]:
        contract = page.text.split("合同编号：")[1][:14]
        queries += [contract, contract[-6:]]
    for page in picks[4:8]:
        queries += [f"户号:{page.customer_account}", page.customer_account[-7:]]
    queries += [f"客户:{picks[8].customer_name}", picks[9].customer_name]
    return queries[:50]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run_rebuild(args) -> None:
    """Child process: rebuild (or resume) the index from the corpus; prints JSON timing and peak RSS."""
    corpus = Corpus(args.pages, args.seed)
    ix = SearchIndex(Path(args.index_dir))
    started = time.perf_counter()
    last = [started, 0]

    def progress(done: int, last_id: int) -> None:
        now = time.perf_counter()
        print(f"  {done:>9} pages  {(done - last[1]) / (now - last[0]):7.0f} pages/s  rss {_rss_mb():.0f} MB"
              f"  load {_load()}", file=sys.stderr, flush=True)
        last[0], last[1] = now, done

    load_start = _load()
    ix.rebuild(corpus.pages, progress=progress, commit_every=args.commit_every, procs=args.procs)
    ended = time.perf_counter()
    # with procs > 1 the indexing sub-processes hold memory too: the largest one is reported
    # (ru_maxrss of children is the maximum over them, not the sum)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": ended - started, "merge_and_swap_seconds": ended - last[0],
                      "peak_rss_mb": _rss_mb(), "child_peak_rss_mb": children, "procs": args.procs,
                      "load": [load_start, _load()]}))


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def _matching_page_ids(ix: SearchIndex, q: str) -> set[int]:
    """Every page matching q, all candidates confirmed (the engine's internals, for recall)."""
    import numpy as np

    from docsvc.search.matching import Context, build
    from docsvc.search.query import compile_query

    view = ix._view()
    root = build(compile_query(q).plan, Context(view, view.alive, {}))
    undecided = np.flatnonzero(root.hi & ~root.known)
    matched, _ = root.decide(undecided)
    docnums = np.concatenate([np.flatnonzero(root.lo & root.known), undecided[matched]])
    page_key = view.reader.column_reader("page_key")
    return {page_key[int(d)] for d in docnums}


def _stock_schema():
    """What an application would write with Whoosh out of the box for the same pages."""
    from whoosh import fields
    from whoosh.analysis import StandardAnalyzer

    text = lambda **kw: fields.TEXT(analyzer=StandardAnalyzer(), **kw)  # noqa: E731
    return fields.Schema(page_id=fields.ID(stored=True, unique=True), document_id=fields.ID(stored=True),
                         page_number=fields.STORED(), doc_type=fields.ID(stored=True),
                         date=fields.NUMERIC(int, 32, stored=True), sensitive=fields.BOOLEAN(stored=True),
                         text=text(stored=True), title=text(stored=True), customer=text(stored=True),
                         account=text(stored=True), refcode=text(stored=True))


def _stock_fields(p: PageRecord) -> dict:
    doc = {"page_id": str(p.page_id), "document_id": str(p.document_id), "page_number": p.page_number,
           "sensitive": p.sensitive, "text": p.text}
    for name, value in (("doc_type", p.doc_type), ("title", p.title), ("customer", p.customer_name),
                        ("account", p.customer_account), ("refcode", p.reference_code)):
        if value:
            doc[name] = value
    if p.doc_date:
        doc["date"] = p.doc_date.year * 10000 + p.doc_date.month * 100 + p.doc_date.day
    return doc


def _indexing_rounds(pages: list[PageRecord], round_pages: int, procs: int, workdir: Path) -> dict:
    """Ours vs stock Whoosh indexing the same pages into fresh indexes, alternating per round."""
    from whoosh import index as windex

    ours_rates, stock_rates, loads = [], [], []
    for n, start in enumerate(range(0, len(pages) - round_pages + 1, round_pages)):
        chunk = pages[start:start + round_pages]
        loads.append(_load())

        def ours() -> float:
            ix = SearchIndex(workdir / f"rate-ours-{procs}-{n}")
            t = time.perf_counter()
            ix.rebuild(lambda after: iter(chunk), commit_every=round_pages, procs=procs)
            return round_pages / (time.perf_counter() - t)

        def stock() -> float:
            path = workdir / f"rate-stock-{procs}-{n}"
            path.mkdir(parents=True)
            ix = windex.create_in(str(path), _stock_schema())
            t = time.perf_counter()
            writer = ix.writer(procs=procs, limitmb=max(32, 128 // procs))
            for page in chunk:
                writer.add_document(**_stock_fields(page))
            writer.commit()
            return round_pages / (time.perf_counter() - t)

        runs = (ours, stock) if n % 2 == 0 else (stock, ours)
        rates = {f.__name__: f() for f in runs}
        ours_rates.append(rates["ours"])
        stock_rates.append(rates["stock"])
    loads.append(_load())
    ratios = [o / s for o, s in zip(ours_rates, stock_rates)]
    return {"procs": procs, "round_pages": round_pages, "rounds": len(ratios),
            "ours_pages_per_s": round(statistics.median(ours_rates), 1),
            "stock_pages_per_s": round(statistics.median(stock_rates), 1),
            "ratio_ours_to_stock": round(statistics.median(ratios), 2), "load": [min(loads), max(loads)]}


def _recall(corpus_pages: list[PageRecord], queries: list[str], workdir: Path) -> dict:
    """Recall of plain-text queries, ours vs Whoosh StandardAnalyzer, on a small sub-corpus.

    Truth for a query is every page whose normalised text contains it (spaces ignored), i.e. what
    an archivist reading the page would say it contains.
    """
    from whoosh import fields, index as windex, qparser

    plain = [q for q in queries if all(c not in q for c in ':"()-.') and " " not in q and "NOT" not in q]
    ours = SearchIndex(workdir / "recall-ours")
    ours.add_pages(corpus_pages)
    std_dir = workdir / "recall-standard"
    std_dir.mkdir(parents=True, exist_ok=True)
    std = windex.create_in(str(std_dir), fields.Schema(pid=fields.ID(stored=True), text=fields.TEXT()))
    with std.writer() as w:
        for p in corpus_pages:
            w.add_document(pid=str(p.page_id), text=p.text)
    texts = {p.page_id: normalize(p.text).lower().replace(" ", "") for p in corpus_pages}
    rows = []
    with std.searcher() as s:
        parser = qparser.QueryParser("text", std.schema)
        for q in plain:
            needle = normalize(q).lower()
            truth = {pid for pid, t in texts.items() if needle in t}
            if not truth:
                continue
            got_std = {int(h["pid"]) for h in s.search(parser.parse(q), limit=None)}
            got_ours = _matching_page_ids(ours, q)
            rows.append((q, len(truth), len(truth & got_std) / len(truth), len(truth & got_ours) / len(truth)))
    return {"queries": len(rows),
            "ours": statistics.mean(r[3] for r in rows), "standard": statistics.mean(r[2] for r in rows),
            "rows": rows}


def _index_complete(index_dir: Path, pages: int) -> bool:
    """A live index holding the corpus and no rebuild in progress."""
    from docsvc.search.index import BUILD_STATE_FILE

    if not (index_dir / "CURRENT").exists() or (index_dir / BUILD_STATE_FILE).exists():
        return False
    ix = SearchIndex(index_dir)
    return not ix.needs_rebuild() and ix.page_count() >= pages


def _queries(ix: SearchIndex, queries: list[str]) -> dict:
    for q in queries:  # warm the OS page cache and the dense columns, as a running web process would be
        ix.search(q)
    load_start = _load()
    latencies, totals, approximate = [], [], []
    for q in queries:
        t = time.perf_counter()
        res = ix.search(q)
        latencies.append((time.perf_counter() - t) * 1000)
        totals.append(res.total_pages)
        approximate.append(res.approximate)
    ordered = sorted(latencies)
    slowest = sorted(zip(latencies, queries, totals, approximate), reverse=True)[:5]
    return {"p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(ordered[int(round(0.95 * (len(latencies) - 1)))], 1),
            "max_ms": round(ordered[-1], 1), "approximate": sum(approximate),
            "segments": ix.segment_count(),
            "slowest": [(round(ms, 1), q, n, "about" if a else "exact") for ms, q, n, a in slowest],
            "load": [load_start, _load()]}


def _incremental(ix: SearchIndex, args) -> dict:
    """2,000 new pages in batches of 500 on top of the built index, then removed again so a kept
    index stays the corpus."""
    extra = Corpus(args.pages + 2000, args.seed + 1)
    batch = [p for p in extra.pages(after=args.pages)]
    load_start = _load()
    t = time.perf_counter()
    for i in range(0, len(batch), 500):
        ix.add_pages(batch[i:i + 500])
    rate = len(batch) / (time.perf_counter() - t)
    load_end = _load()
    ix.delete_pages(p.page_id for p in batch)
    return {"pages_per_s": round(rate, 1), "load": [load_start, load_end]}


PHASES = ("rebuild", "queries", "incremental", "indexing", "recall")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--commit-every", type=int, default=20_000)
    ap.add_argument("--workdir", default="/tmp/docsvc-search-bench", help="scratch space (wiped each run)")
    ap.add_argument("--index-dir", help="the benchmark index (default: WORKDIR/ours)")
    ap.add_argument("--reuse", action="store_true",
                    help="use a complete index in --index-dir as it is, resume an interrupted one")
    ap.add_argument("--procs", type=int, default=2, help="indexing processes for the rebuild")
    ap.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    ap.add_argument("--rate-pages", type=int, default=10_000, help="pages per round of the indexing comparison")
    ap.add_argument("--rate-rounds", type=int, default=2, help="rounds of the indexing comparison")
    ap.add_argument("--phase", choices=["all", "rebuild"], default="all", help=argparse.SUPPRESS)
    args = ap.parse_args()
    workdir = Path(args.workdir)
    args.index_dir = args.index_dir or str(workdir / "ours")
    if args.phase == "rebuild":
        run_rebuild(args)
        return

    phases = [p for p in args.phases.split(",") if p]
    unknown = set(phases) - set(PHASES)
    if unknown:
        ap.error(f"unknown phases: {', '.join(sorted(unknown))}")
    index_dir = Path(args.index_dir)
    shutil.rmtree(workdir / "scratch", ignore_errors=True)
    (workdir / "scratch").mkdir(parents=True)
    corpus = Corpus(args.pages, args.seed)
    report: dict = {"pages": args.pages, "index_dir": str(index_dir)}

    if "rebuild" in phases:
        if args.reuse and _index_complete(index_dir, args.pages):
            report["rebuild"] = "reused"
        else:
            if not args.reuse:
                shutil.rmtree(index_dir, ignore_errors=True)
            print(f"rebuilding {args.pages} pages into {index_dir} …", file=sys.stderr)
            child = subprocess.run([sys.executable, __file__, "--phase", "rebuild", "--pages", str(args.pages),
                                    "--seed", str(args.seed), "--commit-every", str(args.commit_every),
                                    "--procs", str(args.procs), "--workdir", str(workdir),
                                    "--index-dir", str(index_dir)],
                                   check=True, stdout=subprocess.PIPE, text=True)
            rebuild = json.loads(child.stdout.strip().splitlines()[-1])
            report["rebuild"] = {**{k: round(v, 1) if isinstance(v, float) else v for k, v in rebuild.items()},
                                 "pages_per_s": round(args.pages / rebuild["seconds"], 1),
                                 "index_mb": round(_dir_mb(SearchIndex(index_dir).current_directory()), 1)}

    queries = query_table(corpus)
    if "queries" in phases or "incremental" in phases:
        ix = SearchIndex(index_dir)
        report["index_mb"] = round(_dir_mb(ix.current_directory()), 1)
        if "queries" in phases:
            report["queries"] = _queries(ix, queries)
        if "incremental" in phases:
            report["incremental"] = _incremental(ix, args)
    if "indexing" in phases:
        sample = [p for _, p in zip(range(args.rate_pages * args.rate_rounds), corpus.pages())]
        report["indexing"] = [_indexing_rounds(sample, args.rate_pages, procs, workdir / "scratch")
                              for procs in sorted({1, args.procs})]
    if "recall" in phases:
        small = [p for _, p in zip(range(3000), Corpus(3000, args.seed).pages())]
        recall = _recall(small, queries, workdir / "scratch")
        report["recall"] = {"queries": recall["queries"], "ours": round(recall["ours"], 3),
                            "whoosh_standard": round(recall["standard"], 3)}
    shutil.rmtree(workdir / "scratch", ignore_errors=True)
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
