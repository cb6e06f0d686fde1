"""`agqc serve`: the playground's JSON API over real HTTP, and the page in a real headless browser.

Each test serves a fresh folder (copies of shipped specs, a file outside it, links into and out of
it) on a free port of 127.0.0.1.  The browser test types as a student would: a mistake, its
diagnostic at its line, a fix, the drawing changing, Ctrl-S, the file on disk.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import headless
from agqc.backends.drawing import have_dot
from agqc.policy import MAX_FILE_BYTES
from agqc.serve.server import Playground

SPECS = Path(__file__).resolve().parent.parent / "specs"
DNN = "specs/dnn_classifier.agq"  # line 23: `    logits = h -> linear(CLASSES)`


@pytest.fixture
def course(tmp_path):
    """A served folder: specs/ with three shipped specs, and things a request must not reach."""
    root = tmp_path / "course"
    (root / "specs").mkdir(parents=True)
    for name in ("dnn_classifier.agq", "cnn_tf_best.agq", "cnn_tf_scratch.agq"):
        shutil.copy(SPECS / name, root / "specs" / name)
    (tmp_path / "outside.agq").write_text("# a secret outside the served folder\n")
    (root / "escape.agq").symlink_to(tmp_path / "outside.agq")
    (root / "alias.agq").symlink_to(root / "specs" / "dnn_classifier.agq")
    (root / "notes.txt").write_text("not a spec\n")
    return root


@pytest.fixture
def server(course):
    playground = Playground(course, 0)
    thread = threading.Thread(target=playground.serve_forever, daemon=True)
    thread.start()
    yield playground
    playground.shutdown()
    playground.server_close()


def call(server, method, path, body=None, headers=None, raw: bytes | None = None):
    """(status, JSON answer) of one request, with the page's token unless ``headers`` say otherwise."""
    sent = {"X-Agqc-Token": server.token, **({"Content-Type": "application/json"} if method == "POST" else {}),
            **(headers or {})}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data, method=method,
                                     headers={k: v for k, v in sent.items() if v is not None})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_it_listens_on_127_0_0_1_only_and_lists_the_specs_inside_the_folder(server):
    assert server.server_address[0] == "127.0.0.1"
    status, answer = call(server, "GET", "/api/specs")
    assert status == 200
    # escape.agq leads outside, notes.txt is no spec; alias.agq is a link to a spec inside
    assert answer["specs"] == ["alias.agq", "specs/cnn_tf_best.agq", "specs/cnn_tf_scratch.agq", DNN]
    status, answer = call(server, "GET", f"/api/spec?path={DNN}")
    assert status == 200 and answer["text"] == (SPECS / "dnn_classifier.agq").read_text()


@pytest.mark.parametrize("path", ["../outside.agq", "specs/../../outside.agq", "escape.agq", "notes.txt", "",
                                  "/etc/passwd", "specs\\..\\..\\outside.agq", "specs"])
def test_paths_outside_the_folder_or_not_specs_are_refused(server, course, path):
    outside = course.parent / "outside.agq"
    for absolute in (False, True):
        asked = str(course / path) if absolute and path == "../outside.agq" else path
        status, answer = call(server, "GET", f"/api/spec?path={urllib.request.quote(asked)}")
        assert status == 400 and "secret" not in json.dumps(answer) and answer["error"]
        status, answer = call(server, "POST", "/api/save", {"path": asked, "text": "# overwritten\n"})
        assert status == 400, answer
        status, answer = call(server, "POST", "/api/save", {"path": asked, "text": "# new\n", "create": True})
        assert status in (400, 409), answer
        status, answer = call(server, "POST", "/api/check", {"path": asked, "text": "# x\n"})
        assert status == 400, answer
    assert outside.read_text() == "# a secret outside the served folder\n"
    assert not (course.parent / "new.agq").exists() and (course / "notes.txt").read_text() == "not a spec\n"


def test_without_the_token_or_from_another_site_nothing_is_read_or_saved(server, course):
    before = (course / DNN).read_text()
    save = {"path": DNN, "text": "# overwritten\n"}
    assert call(server, "GET", "/api/specs", headers={"X-Agqc-Token": None})[0] == 403
    assert call(server, "GET", f"/api/spec?path={DNN}", headers={"X-Agqc-Token": "guess"})[0] == 403
    assert call(server, "POST", "/api/save", save, headers={"X-Agqc-Token": None})[0] == 403
    assert call(server, "POST", "/api/save", save, headers={"Origin": "http://evil.example"})[0] == 403
    assert call(server, "POST", "/api/save", save, headers={"Host": f"evil.example:{server.port}"})[0] == 403
    assert call(server, "POST", "/api/save", save, headers={"Content-Type": "text/plain"})[0] == 400
    assert (course / DNN).read_text() == before


def test_a_broken_spec_gets_its_located_diagnostic_and_no_file_is_written(server, course):
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in course.rglob("*") if p.is_file()}
    text = (course / DNN).read_text().replace("linear(CLASSES)", "linear(CLASES)")
    status, answer = call(server, "POST", "/api/check", {"path": DNN, "text": text})
    assert status == 200 and answer["drawing_html"] is None and answer["summary"] is None
    [d] = answer["diagnostics"]
    assert (d["file"], d["here"], d["line"], d["col"], d["end_line"]) == (DNN, True, 23, 26, 23)
    assert d["severity"] == "error" and d["code"] == "unknown-name" and "CLASES" in d["message"]
    assert d["text"].startswith(f"{DNN}:23:26: error[unknown-name]") and "linear(CLASES)" in d["text"]
    assert "agqc-serve-" not in json.dumps(answer)  # the temporary copy's name never shows
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in course.rglob("*") if p.is_file()} == before


def test_unsaved_text_is_checked_with_the_files_it_imports(server, course):
    scratch = (course / "specs/cnn_tf_scratch.agq").read_text().replace("epochs = 9", "epochs = 3")
    status, answer = call(server, "POST", "/api/check", {"path": "specs/cnn_tf_scratch.agq", "text": scratch})
    assert status == 200 and answer["diagnostics"] == [] and "head" in answer["summary"]
    # a mistake in the imported file, on disk, is reported there, not in the edited text
    best = course / "specs/cnn_tf_best.agq"
    best.write_text(best.read_text().replace("block ConvEncoder", "block ConvEncoder(", 1))
    status, answer = call(server, "POST", "/api/check", {"path": "specs/cnn_tf_scratch.agq", "text": scratch})
    assert status == 200 and answer["diagnostics"] and all(not d["here"] for d in answer["diagnostics"])
    assert {d["file"] for d in answer["diagnostics"]} == {"specs/cnn_tf_best.agq"}
    status, answer = call(server, "POST", "/api/check", {"path": "specs/cnn_tf_scratch.agq",
                                                         "text": scratch.replace("cnn_tf_best", "cnn_tf_bets")})
    [d] = answer["diagnostics"]
    assert d["here"] and d["line"] == 7 and "cnn_tf_bets.agq" in d["message"]


@pytest.mark.skipif(not have_dot(), reason="Graphviz's dot is not installed: `make setup` installs it")
def test_a_good_spec_gets_its_drawing_and_summary(server, course):
    text = (course / DNN).read_text().replace("linear(512)", "linear(384)")
    status, answer = call(server, "POST", "/api/check", {"path": DNN, "text": text})
    assert status == 200 and answer["diagnostics"] == []
    assert answer["drawing_html"].startswith("<!DOCTYPE html>") and "linear 384" in answer["drawing_html"]
    assert "net.linear1   linear      [B, 384]" in answer["summary"]


def test_saving_replaces_the_file_atomically_and_only_when_asked(server, course):
    spec = course / DNN
    spec.chmod(0o640)
    status, opened = call(server, "GET", f"/api/spec?path={DNN}")
    inode = spec.stat().st_ino
    text = opened["text"].replace("linear(512)", "linear(384)")
    call(server, "POST", "/api/check", {"path": DNN, "text": text})
    assert spec.read_text() == opened["text"]  # checking never writes

    status, answer = call(server, "POST", "/api/save", {"path": DNN, "text": text, "base": opened["sha256"]})
    assert status == 200 and spec.read_text() == text
    assert spec.stat().st_ino != inode  # a new file renamed over the old one, not the old one rewritten
    assert oct(spec.stat().st_mode & 0o777) == "0o640"  # its permissions kept
    assert sorted(p.name for p in spec.parent.iterdir()) == ["cnn_tf_best.agq", "cnn_tf_scratch.agq",
                                                             "dnn_classifier.agq"]  # no temporary left

    # saved from a stale base: refused, the file as it was; without a base it overwrites
    status, answer = call(server, "POST", "/api/save", {"path": DNN, "text": "# lost\n", "base": opened["sha256"]})
    assert status == 409 and "changed on disk" in answer["error"] and spec.read_text() == text
    # through a link inside the folder: the file it names is written, the link stays
    status, _ = call(server, "POST", "/api/save", {"path": "alias.agq", "text": "# via the link\n"})
    assert status == 200 and (course / "alias.agq").is_symlink() and spec.read_text() == "# via the link\n"
    # a new spec: only with create, never over an existing one
    status, _ = call(server, "POST", "/api/save", {"path": "specs/mine.agq", "text": text})
    assert status == 400 and not (course / "specs/mine.agq").exists()
    status, _ = call(server, "POST", "/api/save", {"path": "specs/mine.agq", "text": text, "create": True})
    assert status == 200 and (course / "specs/mine.agq").read_text() == text
    status, answer = call(server, "POST", "/api/save", {"path": "specs/mine.agq", "text": "# x\n", "create": True})
    assert status == 409 and (course / "specs/mine.agq").read_text() == text


def test_a_request_too_large_is_refused_without_reading_it(server, course):
    status, answer = call(server, "POST", "/api/save", raw=b"{}", headers={"Content-Length": str(10**9)})
    assert status == 413 and "1,000,000" in answer["error"]
    big = "#" * (MAX_FILE_BYTES + 1)
    status, answer = call(server, "POST", "/api/save", {"path": DNN, "text": big})
    assert status == 400 and "more than the 1,000,000" in answer["error"]
    assert (course / DNN).read_text() == (SPECS / "dnn_classifier.agq").read_text()
    status, answer = call(server, "POST", "/api/check", raw=b"[1, 2")
    assert status == 400 and "JSON" in answer["error"]


def test_the_command_prints_its_address_and_refuses_what_it_cannot_serve(course):
    agqc = [sys.executable, "-m", "agqc", "serve"]
    # a pytest-xdist worker ignores SIGINT, and a child would inherit that: give it Ctrl-C back
    proc = subprocess.Popen(agqc + [str(course), "--port", "0", "--open", DNN], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = proc.stdout.readline()
        assert line.startswith("agqc serve: http://127.0.0.1:") and f"#{DNN} " in line, line
        with urllib.request.urlopen(line.split()[2].split("#")[0], timeout=30) as page:
            html = page.read().decode()
            assert "agqc playground" in html and page.headers["X-Frame-Options"] == "DENY"
            assert "src=" not in html and "http" not in html.replace("http-equiv", "")  # nothing fetched
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    for args in ([str(course / "missing")], [str(course), "--open", "../outside.agq"], [str(course), "--port", "-1"]):
        done = subprocess.run(agqc + args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1 and done.stderr.startswith("agqc serve: "), done.stderr


# ---- in a real browser -------------------------------------------------------------------------------

@pytest.fixture
def browser():
    reason = headless.missing()
    if reason:
        pytest.skip(reason)
    driver = headless.chrome(1400, 860)
    yield driver
    driver.quit()


def _type_at(driver, line: int, after: str, keys: str) -> None:
    """Put the caret after ``after`` on ``line`` (1-based) and type ``keys`` there, key by key."""
    from selenium.webdriver.common.by import By
    source = driver.find_element(By.ID, "source")
    driver.execute_script("""const s = arguments[0], lines = s.value.split("\\n");
        let at = 0; for (let i = 0; i < arguments[1] - 1; i++) at += lines[i].length + 1;
        at += lines[arguments[1] - 1].indexOf(arguments[2]) + arguments[2].length;
        s.focus(); s.setSelectionRange(at, at);""", source, line, after)
    source.send_keys(keys)


def test_in_a_browser_a_student_breaks_fixes_and_saves_a_spec(server, course, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    wait = WebDriverWait(browser, 30)
    browser.get(server.url + "#" + DNN)
    wait.until(lambda d: "linear 10" in (d.find_element(By.ID, "drawing").get_attribute("srcdoc") or ""))
    assert browser.find_element(By.ID, "spec").get_attribute("value") == DNN
    assert "no problems" in browser.find_element(By.ID, "problems").text

    _type_at(browser, 23, "linear(CLASSE", Keys.DELETE)  # CLASSES -> CLASSE: not a name
    gutter = "return document.querySelector('#numbers > div:nth-child(' + arguments[0] + ')').className;"
    wait.until(lambda d: d.execute_script(gutter, 23) == "error")
    assert [n for n in range(1, 40) if browser.execute_script(gutter, n)] == [23]  # that line alone
    row = browser.find_element(By.CSS_SELECTOR, "#lines > div:nth-child(23)")
    assert row.find_element(By.TAG_NAME, "mark").text == "CLASSE" and "error[unknown-name]" in row.text
    assert f"{DNN}:23:26: error[unknown-name]" in browser.find_element(By.ID, "problems").text
    assert "stale" in browser.find_element(By.ID, "drawing").get_attribute("class")
    assert (course / DNN).read_text() == (SPECS / "dnn_classifier.agq").read_text()  # nothing saved by typing
    browser.save_screenshot(str(tmp_path / "mistake.png"))

    _type_at(browser, 23, "linear(CLASSE", "S")  # fixed
    _type_at(browser, 20, "linear(256", Keys.BACKSPACE * 3 + "320")  # and a wider second layer
    wait.until(lambda d: "linear 320" in (d.find_element(By.ID, "drawing").get_attribute("srcdoc") or ""))
    assert "net.linear2   linear      [B, 320]" in browser.find_element(By.ID, "summary").text
    assert "stale" not in browser.find_element(By.ID, "drawing").get_attribute("class")
    assert browser.execute_script(gutter, 23) == "" and "no problems" in browser.find_element(By.ID, "problems").text
    browser.switch_to.frame(browser.find_element(By.ID, "drawing"))  # the drawing's own script runs, sandboxed
    ActionChains(browser).move_to_element(browser.find_element(By.ID, "p0n7")).perform()
    wait.until(lambda d: d.find_element(By.ID, "agq-tip").is_displayed())
    assert "linear2: linear 320" in browser.find_element(By.ID, "agq-tip").text
    browser.switch_to.default_content()
    shot = tmp_path / "fixed.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000

    assert "not saved" in browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "source").send_keys(Keys.CONTROL, "s")
    wait.until(lambda d: "saved at" in d.find_element(By.ID, "status").text)
    saved = (SPECS / "dnn_classifier.agq").read_text().replace("linear(256)", "linear(320)")
    assert (course / DNN).read_text() == saved
    assert browser.find_element(By.ID, "save").get_attribute("disabled") is not None
