"""The explorer in a real browser (headless Chromium) on a finished demo ledger: numbers, charts, audit, live updates."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from fl_node.explorer import formatting
from incentive.ledger import RoundStatus, node_key_hash, to_bytes32

pytestmark = pytest.mark.slow


def open_page(browser, served, page: str):
    browser.get(served.url + page)
    WebDriverWait(browser, 30).until(EC.presence_of_element_located((By.ID, "content")))


def shot(browser, served, name: str) -> None:
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1440, max(1000, height))
    browser.save_screenshot(str(served.screenshots / f"{name}.png"))
    assert (served.screenshots / f"{name}.png").stat().st_size > 10_000


def cell(row, column: str):
    return row.find_element(By.CSS_SELECTOR, f'[data-col="{column}"]')


def value(element) -> int:
    return int(element.find_element(By.CSS_SELECTOR, "[data-value]").get_attribute("data-value"))


def test_overview_shows_the_ledger_roles_totals_and_tasks(browser, served_demo):
    ledger = served_demo.federation.ledger

    open_page(browser, served_demo, "index.html")

    text = browser.find_element(By.ID, "content").text
    assert f"Chain id\n{ledger.chain.chain_id}" in text
    supply = ledger.token_contract.functions.totalSupply().call()
    assert value(browser.find_element(By.ID, "token-supply")) == supply
    assert formatting.tokens(supply) in text
    roles = browser.find_element(By.ID, "roles").text
    assert "admin" in roles and "aggregator" in roles and "evaluator" in roles
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tasks tbody tr")) == ledger.task_count()
    shot(browser, served_demo, "overview")


def test_every_number_in_the_members_table_equals_the_chain(browser, served_demo):
    ledger = served_demo.federation.ledger

    open_page(browser, served_demo, "members.html")

    rows = browser.find_elements(By.CSS_SELECTOR, "#members tbody tr")
    members = ledger.members()
    assert [r.get_attribute("data-address") for r in rows] == [m.address for m in members]
    for row, m in zip(rows, members):
        assert row.find_element(By.CSS_SELECTOR, "td.name").text == m.name
        for column, expected, shown in (
            ("stake", m.stake, formatting.eth(m.stake)),
            ("slashed", 0, formatting.eth(0)),
            ("score", m.cumulative_score, formatting.fraction(m.cumulative_score)),
            ("pending", m.pending_reward, formatting.tokens(m.pending_reward)),
            ("claimed", m.claimed_reward, formatting.tokens(m.claimed_reward)),
        ):
            assert value(cell(row, column)) == expected, (m.name, column)
            assert cell(row, column).text == shown, (m.name, column)
    assert any(m.claimed_reward > 0 for m in members)
    shot(browser, served_demo, "members")


def test_every_number_in_the_round_tables_equals_the_chain(browser, served_demo):
    ledger = served_demo.federation.ledger

    for round_id in range(1, ledger.round_count() + 1):
        open_page(browser, served_demo, f"round-{round_id}.html")
        r = ledger.round(round_id)
        assert r.status == RoundStatus.FINALIZED
        for column, expected in (("budget", r.budget), ("rewarded", r.rewarded), ("dust", r.dust), ("performance", r.performance)):
            assert value(browser.find_element(By.CSS_SELECTOR, f'dd[data-col="{column}"]')) == expected, (round_id, column)
        rows = browser.find_elements(By.CSS_SELECTOR, "#participants tbody tr")
        assert [row.get_attribute("data-address") for row in rows] == [p.account for p in r.participants]
        for row, p in zip(rows, r.participants):
            assert value(cell(row, "score")) == p.score
            assert cell(row, "score").text == formatting.fraction(p.score)
            assert value(cell(row, "reward")) == p.reward
            assert cell(row, "reward").text == formatting.tokens(p.reward)
            assert cell(row, "blob").text == "present"
            assert row.find_element(By.CSS_SELECTOR, "code.hex").get_attribute("title") == p.account
    assert "Aggregated" in browser.find_element(By.ID, "models").text
    shot(browser, served_demo, "round")


def test_the_task_charts_render_on_canvas(browser, served_demo):
    open_page(browser, served_demo, "task-1.html")

    for canvas_id in ("chart-performance", "chart-contributions"):
        canvas = browser.find_element(By.ID, canvas_id)
        assert canvas.size["width"] > 100 and canvas.size["height"] > 100
        painted = browser.execute_script(
            "const c = arguments[0]; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; } return n;",
            canvas,
        )
        assert painted > 1_000, canvas_id
    assert browser.execute_script("return typeof Chart") == "function"
    assert "matches its hash" in browser.find_element(By.ID, "spec").text
    shot(browser, served_demo, "task")


def run_audit(browser, served):
    open_page(browser, served, "audit.html")
    browser.find_element(By.ID, "run-audit").click()
    WebDriverWait(browser, 120).until(EC.presence_of_element_located((By.ID, "verdict")))
    return {row.get_attribute("data-check"): row for row in browser.find_elements(By.CSS_SELECTOR, "#checks tbody tr")}


def test_the_audit_passes_then_names_the_round_and_participant_of_a_flipped_byte(browser, served_demo):
    ledger = served_demo.federation.ledger

    checks = run_audit(browser, served_demo)
    assert browser.find_element(By.ID, "verdict").text == "all checks hold"
    assert {"commitments", "reward arithmetic", "aggregation", "scores"} <= set(checks)
    assert all(row.get_attribute("class") == "ok" for row in checks.values())
    shot(browser, served_demo, "audit")

    victim = ledger.participants(2)[0]
    blob = served_demo.federation.store.path_for(to_bytes32(victim.commitment))
    original = blob.read_bytes()
    blob.write_bytes(original[:100] + bytes([original[100] ^ 1]) + original[101:])
    try:
        checks = run_audit(browser, served_demo)
        assert browser.find_element(By.ID, "verdict").text == "FAILED"
        failed = checks["commitments"]
        assert failed.get_attribute("class") == "failed"
        assert failed.find_element(By.LINK_TEXT, "round 2").get_attribute("href").endswith("round-2.html")
        named = [c.get_attribute("data-full") for c in failed.find_elements(By.CSS_SELECTOR, "code.hex")]
        assert victim.account in named and victim.commitment in named
        shot(browser, served_demo, "audit-failed")
        open_page(browser, served_demo, "round-2.html")
        row = browser.find_element(By.CSS_SELECTOR, f'#participants tr[data-address="{victim.account}"]')
        assert cell(row, "blob").text == "altered"
    finally:
        blob.write_bytes(original)


def test_an_open_page_updates_as_blocks_arrive(browser, served_demo):
    federation = served_demo.federation
    open_page(browser, served_demo, "members.html")
    browser.execute_script("window.notReloaded = true;")
    before = len(browser.find_elements(By.CSS_SELECTOR, "#members tbody tr"))

    newcomer = federation.chain.new_account(10**19)
    with served_demo.explorer.lock:
        federation.ledger.join(newcomer, "Hospital Late", node_key_hash(newcomer), stake_wei=federation.ledger.min_stake())

    WebDriverWait(browser, 20).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, "#members tbody tr")) == before + 1
    )
    assert browser.execute_script("return window.notReloaded === true")
    row = browser.find_element(By.CSS_SELECTOR, f'#members tr[data-address="{newcomer.address}"]')
    assert row.find_element(By.CSS_SELECTOR, "td.name").text == "Hospital Late"
    assert int(browser.find_element(By.ID, "head").text.replace(",", "")) == federation.chain.w3.eth.block_number


def test_the_static_export_works_offline_from_files(browser, served_demo, tmp_path):
    from fl_node.explorer.export import export_site

    written = export_site(served_demo.explorer, tmp_path / "site", audit=False)

    names = {p.name for p in written}
    assert {"index.html", "members.html", "task-1.html", "round-1.html", "audit.html", "chart.umd.min.js"} <= names
    browser.get((tmp_path / "site" / "task-1.html").as_uri())
    time.sleep(0.5)
    assert browser.execute_script("return typeof Chart") == "function"
    assert browser.find_element(By.CSS_SELECTOR, ".static").text == "static export"
