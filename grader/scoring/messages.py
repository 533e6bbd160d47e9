"""The runner's own feedback, in English and Japanese (the checks' texts are in the checks).

Each function returns ``(en, ja)``.
"""

from __future__ import annotations

import re

from grader.sandbox.handle import StudentError, StudentTimeout, WorkerDied

TRACEBACK_TAIL = 1500
_JA_BLOCK_REASON = ("この課題で自分で実装するものの dlkit 版（a1 では dlkit.initializers・"
                    "dlkit.network・dlkit.experiments、BatchNorm を実装する課題では dlkit の "
                    "BatchNorm）は使えません。解答 (solutions) と採点プログラムはどの課題でも"
                    "使えません")


# WorkerDied reasons (grader.sandbox.handle) in Japanese: (English pattern, Japanese template).
_CRASH_JA = "（ネイティブコードのクラッシュ）"
_SIGNAL_JA = {
    "a segmentation fault (crash in native code)": "セグメンテーション違反" + _CRASH_JA,
    "a bus error (crash in native code)": "バスエラー" + _CRASH_JA,
    "an abort (crash in native code)": "abort" + _CRASH_JA,
    "a floating-point exception (crash in native code)": "浮動小数点例外" + _CRASH_JA,
    "an illegal instruction (crash in native code)": "不正な命令" + _CRASH_JA,
    "SIGKILL (a resource limit, or killed from outside)":
        "SIGKILL（資源の上限、または外部からの停止）",
}
_DIED_JA = [
    (r"(?P<what>.*): the worker was killed by (?P<sig>\w+): the CPU time limit \((?P<n>.*)\)",
     "{what}: ワーカーが {sig} で停止されました: CPU 時間の上限（{n}）"),
    (r"(?P<what>.*): the worker was killed by (?P<sig>\w+): the file size limit \((?P<n>.*)\)",
     "{what}: ワーカーが {sig} で停止されました: ファイルサイズの上限（{n}）"),
    (r"(?P<what>.*): the worker was killed by (?P<sig>\w+): (?P<why>.*)",
     "{what}: ワーカーが {sig} で停止されました: {why}"),
    (r"(?P<what>.*): the worker exited with status (?P<rc>-?\d+) .*",
     "{what}: ワーカーが終了コード {rc} で終了しました（os._exit() または実行中のクラッシュ）"),
    (r"(?P<what>.*): your code called sys\.exit\((?P<code>.*)\)",
     "{what}: あなたのコードが sys.exit({code}) を呼びました"),
    (r"(?P<what>.*): the worker stopped answering", "{what}: ワーカーが応答しなくなりました"),
    (r"(?P<what>.*): the worker sent a malformed message.*",
     "{what}: ワーカーが不正なメッセージを送りました"),
    (r"(?P<what>.*): the worker answered out of turn.*",
     "{what}: ワーカーが順番外に応答しました（計測した回は採点プログラムのものではありません）"),
    (r"this object was lost.*",
     "このオブジェクトは失われました: 前の失敗（時間切れ・クラッシュ・終了）の後でワーカーが"
     "再起動されました"),
]


def _died_ja(reason: str) -> str:
    """A WorkerDied reason in Japanese (the English one if no pattern knows it)."""
    for pattern, template in _DIED_JA:
        m = re.fullmatch(pattern, reason, flags=re.DOTALL)
        if m:
            fields = m.groupdict()
            if "why" in fields:
                fields["why"] = _SIGNAL_JA.get(fields["why"], fields["why"])
            return template.format(**fields)
    return reason


def sandbox_error(exc: Exception) -> tuple[str, str]:
    """Why a check got 0 because of the student's code (error, block, timeout, crash)."""
    if isinstance(exc, StudentError):
        if exc.blocked:
            name, _, why = exc.message.removeprefix("BLOCKED: ").partition(" is not available")
            return (f"Not allowed: your code uses {name}, which is not available here"
                    f"{why.removeprefix(' here')}. Checks that need it score 0.",
                    f"使用禁止: あなたのコードは {name} を使っていますが、ここでは使えません"
                    f"（{_JA_BLOCK_REASON}）。これを必要とする検査は 0 点です。")
        tb = exc.traceback[-TRACEBACK_TAIL:]
        if exc.type_name == "MemoryError":
            return (f"Your code ran out of memory (MemoryError: {exc.message}); the worker "
                    f"has a memory limit.\n{tb}",
                    f"メモリ不足です (MemoryError: {exc.message})。ワーカーにはメモリ上限が"
                    f"あります。\n{tb}")
        return (f"Your code raised {exc.type_name}: {exc.message}\n{tb}",
                f"あなたのコードで {exc.type_name} が発生しました: {exc.message}\n{tb}")
    if isinstance(exc, StudentTimeout):
        return (f"Time limit: {exc.what} did not finish within {exc.seconds:g} s "
                f"(an endless loop, or far too slow); it was stopped.",
                f"時間制限: {exc.what} が {exc.seconds:g} 秒以内に終わらなかったため停止しました"
                f"(無限ループ、または遅すぎます)。")
    if isinstance(exc, WorkerDied):
        return (f"Your code stopped the process that runs it: {exc.reason}",
                f"あなたのコードが実行プロセスを停止させました: {_died_ja(exc.reason)}")
    return str(exc), str(exc)


def _where(traceback: str, path: str) -> str:
    """" (file, line N)" of the deepest frame of the student's own files in a traceback."""
    frames = re.findall(r'File "([^"<]+)", line (\d+)', traceback)
    for file, line in reversed(frames):
        if not file.startswith("/"):
            return f" ({file}, line {line})"
    return f" ({path})"


def _own_frames(traceback: str) -> str:
    """The traceback without the frames of Python's import machinery (absolute paths,
    ``<frozen importlib...>``): what is left is the student's files."""
    kept, skipping = [], False
    for line in traceback.splitlines():
        if line.startswith('  File "'):
            skipping = line.startswith(('  File "/', '  File "<'))
        elif not line.startswith("    "):
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept)


def load_error(path: str, exc: Exception) -> tuple[str, str]:
    """The task's module ``path`` could not be imported: said once, for the whole task."""
    if isinstance(exc, StudentError) and not exc.blocked:
        where = _where(exc.traceback, path)
        tb = _own_frames(exc.traceback)[-TRACEBACK_TAIL:]
        return (f"Your code cannot be loaded: importing {path} raised {exc.type_name}: "
                f"{exc.message}{where}.\n{tb}",
                f"あなたのコードを読み込めません: {path} の import で {exc.type_name} が"
                f"発生しました: {exc.message}{where}。\n{tb}")
    en, ja = sandbox_error(exc)
    return (f"Your code cannot be loaded ({path}): {en}",
            f"あなたのコードを読み込めません ({path}): {ja}")


def not_run(reason: str, detail: str = "", detail_ja: str | None = None) -> tuple[str, str]:
    """A check that did not run at all (budget used up, grader problem, run stopped)."""
    table = {
        "budget": ("Not run: the time budget of this assignment was used up by earlier "
                   "checks.", "未実行: この課題の制限時間を前の検査で使い切りました。"),
        "missing": ("Not run: this assignment's folder is not in the submission.",
                    "未実行: 提出物にこの課題のフォルダがありません。"),
        "grader": ("Not run: the grader failed on this assignment (not your fault; tell "
                   "the course staff).",
                   "未実行: 採点プログラムの不具合です (あなたの責任ではありません。"
                   "担当者に連絡してください)。"),
        "see-above": ("Not run: see above.", "未実行: 上記を参照してください。"),
        "no-result": ("Not run: the checks process ended before this check.",
                      "未実行: この検査の前に検査プロセスが終了しました。"),
        "tampered": ("Not graded: the results file of this assignment was modified while "
                     "the checks ran, so none of its results can be trusted.",
                     "採点不可: 検査中に結果ファイルが改ざんされたため、この課題の結果は"
                     "信頼できません。"),
        "stopped": ("Not run: grading stopped before this check (the platform's time limit "
                    "ended the run).",
                    "未実行: この検査の前に採点が止まりました (プラットフォームの制限時間で"
                    "実行が終了しました)。"),
        "unreadable": (f"Not run: the submission cannot be read: {detail}",
                       f"未実行: 提出物を読み込めません: "
                       f"{detail if detail_ja is None else detail_ja}"),
    }
    return table[reason]


def timed_run_mismatch(probe: str, error: float, tol: float) -> tuple[str, str]:
    """A speed check whose timed calls did not compute the results for the inputs given
    (a memoizing kernel, or a worker that answered "done" without doing the work)."""
    seen_en = (f"relative error {error:.3g}, allowed {tol:g}" if error != float("inf") else
               "no valid value came back with the timed round")
    seen_ja = (f"相対誤差 {error:.3g}、許容 {tol:g}" if error != float("inf") else
               "計測した回の値が正しく返されませんでした")
    return (f"No speed points: the results of the timed calls differ from BatchNorm of the "
            f"inputs those calls were given ({probe}: {seen_en}). Each timed call gets a "
            f"slightly changed input, and its results must be computed from that input (code "
            f"that reuses an earlier call's results, or answers without computing, fails "
            f"this).",
            f"速度の得点なし: 時間を計測した呼び出しの結果が、その呼び出しに与えた入力の "
            f"BatchNorm と異なりました（{probe}: {seen_ja}）。計測では呼び出しごとに入力を"
            f"少し変えます。結果はその入力から計算してください（以前の呼び出しの結果を使い回す"
            f"コードや、計算せずに答えるコードはここで失敗します）。")
