"""The explorer page in a real browser: headless Chromium (Debian's package) driven by Selenium.

The page is opened from disk (file://), as a user who downloaded a release would. Chromium runs with the
flags the machine notes ask for (no background networking: this machine's network is closed).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_explorer import (
    HOSTILE_NAME,
    SOURCE_URLS,
    committed_release,
    generated_tables,
    sample_tables,
    tiny_png,
)

from pipelines.lib.explorer import write_explorer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,900"]
ALPHA, BETA = "example-lab/alpha-7b", "other-org/beta-13b"


def three_digits(value: float) -> str:
    """A number rounded to three significant digits, written with thousands separators."""
    return format(float(f"{value:.3g}"), ",g")


def start_chromium(profile: Path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no Chromium here ({CHROMIUM}, {CHROMEDRIVER}): install Debian's chromium and "
                    "chromium-driver to run the browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # an explicit driver path: Selenium then never looks for (or downloads) a driver of its own
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.fixture(scope="module")
def browser():
    profile = Path(tempfile.mkdtemp(prefix="explorer-chromium-"))
    driver = start_chromium(profile)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("release")
    (folder / "emissions_by_year.png").write_bytes(tiny_png())
    return write_explorer(folder, "2031.01.02", sample_tables(), release_date="2031-01-02",
                          plots=["emissions_by_year.png", "not_drawn.png"])


def open_page(driver, path: Path, fragment: str = "", width: int = 1280, height: int = 900):
    driver.set_window_size(width, height)
    driver.get("about:blank")  # a new document even when only the fragment differs
    driver.get(path.as_uri() + fragment)
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.documentElement.dataset.explorerReady === 'true'"))


def shown_run_ids(driver) -> list[str]:
    return [row.get_attribute("data-run-id") for row in driver.find_elements(By.CSS_SELECTOR, "#runs-body tr")]


def row_for(driver, run_id: str):
    return driver.find_element(By.CSS_SELECTOR, f'#runs-body tr[data-run-id="{run_id}"]')


def wait_for_detail(driver):
    WebDriverWait(driver, 5).until(lambda d: d.find_element(By.ID, "detail-view").is_displayed())


def test_table_renders_every_run_of_the_release(browser, release):
    open_page(browser, release)
    runs = sample_tables()["training_runs"]
    assert sorted(shown_run_ids(browser)) == sorted(runs["run_id"].to_pylist())
    count = browser.find_element(By.ID, "count")
    assert count.get_attribute("data-matching") == str(runs.num_rows)
    assert f"of {runs.num_rows} matching runs" in count.text
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_search_narrows_the_table_and_clearing_restores_it(browser, release):
    open_page(browser, release)
    search = browser.find_element(By.ID, "search")
    search.send_keys("beta")
    assert shown_run_ids(browser) == [f"{BETA}@pretraining"]
    search.send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
    search.send_keys("example lab")  # every word must match, in any of the searched fields
    assert sorted(shown_run_ids(browser)) == [f"{ALPHA}@fine-tuning", f"{ALPHA}@pretraining"]
    search.send_keys(" zzz-no-such-thing")
    assert shown_run_ids(browser) == []
    assert browser.find_element(By.ID, "count").get_attribute("data-matching") == "0"
    browser.find_element(By.ID, "reset-filters").click()
    WebDriverWait(browser, 5).until(lambda d: len(shown_run_ids(d)) == 5)


def test_filters_by_origin_stage_and_organization(browser, release):
    open_page(browser, release)
    Select(browser.find_element(By.ID, "filter-origin")).select_by_value("estimated")
    assert shown_run_ids(browser) == [f"{BETA}@pretraining"]
    Select(browser.find_element(By.ID, "filter-origin")).select_by_value("none")
    assert sorted(shown_run_ids(browser)) == sorted([f"{ALPHA}@fine-tuning", "d-lab/delta@inference"])
    Select(browser.find_element(By.ID, "filter-origin")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-stage")).select_by_value("fine-tuning")
    assert shown_run_ids(browser) == [f"{ALPHA}@fine-tuning"]
    Select(browser.find_element(By.ID, "filter-stage")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-organization")).select_by_visible_text("Third Co")
    assert shown_run_ids(browser) == ["third-co/gamma-2b@pretraining"]


def test_header_buttons_sort_with_missing_values_last(browser, release):
    open_page(browser, release)
    runs = sample_tables()["training_runs"].to_pylist()
    with_value = sorted((r for r in runs if r["emissions_tco2e"] is not None), key=lambda r: r["emissions_tco2e"])
    without = sorted(r["run_id"] for r in runs if r["emissions_tco2e"] is None)
    header = browser.find_element(By.CSS_SELECTOR, 'th[data-key="emissions_tco2e"]')
    assert header.get_attribute("aria-sort") == "descending"  # the default order: largest first
    assert shown_run_ids(browser) == [r["run_id"] for r in reversed(with_value)] + without
    browser.find_element(By.CSS_SELECTOR, 'button.sort-button[data-key="emissions_tco2e"]').click()
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-key="emissions_tco2e"]').get_attribute(
        "aria-sort") == "ascending"
    assert shown_run_ids(browser) == [r["run_id"] for r in with_value] + without
    # the headers are real buttons: focus one and press Enter
    model_button = browser.find_element(By.CSS_SELECTOR, 'button.sort-button[data-key="model_name"]')
    browser.execute_script("arguments[0].focus()", model_button)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    names = [r["model_name"] for r in runs]
    shown = [browser.find_element(By.CSS_SELECTOR, f'#runs-body tr[data-run-id="{run_id}"] th').text
             for run_id in shown_run_ids(browser)]
    assert shown == sorted(names, key=str.casefold)
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-key="model_name"]').get_attribute(
        "aria-sort") == "ascending"
    # the focus stays on the header, so Enter again reverses the order
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert browser.find_element(By.CSS_SELECTOR, 'th[data-key="model_name"]').get_attribute(
        "aria-sort") == "descending"


def test_estimated_row_is_labelled_and_shows_its_bounds(browser, release):
    open_page(browser, release)
    beta = next(r for r in sample_tables()["training_runs"].to_pylist() if r["model_id"] == BETA)
    cell = row_for(browser, beta["run_id"]).find_element(By.CSS_SELECTOR, '[data-label="Emissions (tCO2e)"]')
    estimated = cell.find_element(By.CSS_SELECTOR, ".figure-estimated")
    assert "estimated" in estimated.text and "disclosed" not in estimated.text
    assert f"{three_digits(beta['estimate_low_tco2e'])}\u2013{three_digits(beta['estimate_high_tco2e'])}" \
        in estimated.text  # estimates carry no more precision than they have
    assert f"\u2248 {three_digits(beta['emissions_tco2e'])} tCO2e" in estimated.text
    assert "tCO2e" in estimated.text
    assert estimated.value_of_css_property("font-style") == "italic"  # told apart by style, not colour only
    method = row_for(browser, beta["run_id"]).find_element(By.CSS_SELECTOR, "a.method-link")
    assert method.get_attribute("href").endswith("#model/other-org%2Fbeta-13b/estimate")
    disclosed = row_for(browser, f"{ALPHA}@pretraining").find_element(
        By.CSS_SELECTOR, '[data-label="Emissions (tCO2e)"]')
    assert "disclosed" in disclosed.text and "estimated" not in disclosed.text
    assert disclosed.find_elements(By.CSS_SELECTOR, ".figure-estimated") == []
    source = row_for(browser, f"{ALPHA}@pretraining").find_element(By.CSS_SELECTOR, "a.source-link")
    assert source.get_attribute("href") == SOURCE_URLS["alpha_paper"]


def test_model_detail_lists_every_disclosure_with_its_provenance(browser, release):
    open_page(browser, release)
    row_for(browser, f"{ALPHA}@pretraining").find_element(By.CSS_SELECTOR, "a.model-link").click()
    wait_for_detail(browser)
    assert not browser.find_element(By.ID, "list-view").is_displayed()
    assert browser.switch_to.active_element.get_attribute("id") == "detail-title"
    assert browser.find_element(By.ID, "detail-title").text == "Alpha 7B"
    expected = [d for d in sample_tables()["disclosures"].to_pylist() if d["model_id"] == ALPHA]
    rows = browser.find_elements(By.CSS_SELECTOR, "#disclosures-table tbody tr")
    assert len(rows) == len(expected)
    for disclosure in expected:
        matching = [row for row in rows if disclosure["locator"] in row.text]
        assert len(matching) == 1, disclosure["locator"]
        printed = matching[0].find_element(By.CSS_SELECTOR, '[data-label="As printed"]')
        assert printed.find_element(By.TAG_NAME, "q").text == disclosure["value_as_printed"]
        assert printed.find_element(By.CSS_SELECTOR, ".unit").text == disclosure["unit_as_printed"]
    hrefs = {a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#disclosures-table a")}
    assert hrefs == {d["source_url"] for d in expected}
    superseded = browser.find_elements(By.CSS_SELECTOR, "#disclosures-table tr.row-superseded")
    assert len(superseded) == sum(d["is_superseded"] for d in expected)
    assert "superseded on 2023-09-01" in superseded[0].text
    # the conflict between the paper and the survey, both sides with their printed value and source
    conflict = browser.find_element(By.CSS_SELECTOR, ".conflict")
    assert "first-party vs restatement" in conflict.text
    assert [q.text for q in conflict.find_elements(By.TAG_NAME, "q")] == ["25.5", "~40"]
    assert {a.get_attribute("href") for a in conflict.find_elements(By.TAG_NAME, "a")} == {
        SOURCE_URLS["alpha_paper"], SOURCE_URLS["survey"]}
    browser.find_element(By.ID, "back-link").click()
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "list-view").is_displayed())
    assert len(shown_run_ids(browser)) == 5


def test_estimate_method_and_input_origins_are_one_click_away(browser, release):
    open_page(browser, release)
    row_for(browser, f"{BETA}@pretraining").find_element(By.CSS_SELECTOR, "a.method-link").click()
    wait_for_detail(browser)
    assert browser.switch_to.active_element.get_attribute("id") == "detail-estimate"
    block = browser.find_element(By.CSS_SELECTOR, ".estimate-block")
    assert "chip-hours x power x PUE x grid intensity" in block.text
    origins = {row.find_element(By.TAG_NAME, "th").text: row.find_elements(By.TAG_NAME, "td")[-1].text
               for row in block.find_elements(By.CSS_SELECTOR, ".inputs-table tbody tr")}
    assert origins == {"emissions": "estimated", "energy": "estimated", "carbon intensity": "default"}
    card = browser.find_element(By.CSS_SELECTOR, ".run-card")
    beta = next(r for r in sample_tables()["training_runs"].to_pylist() if r["model_id"] == BETA)
    bounds = f"{three_digits(beta['estimate_low_tco2e'])}\u2013{three_digits(beta['estimate_high_tco2e'])}"
    assert bounds in card.text and "estimated" in card.text


def test_conflicts_table_absent_is_said_not_hidden(browser, tmp_path):
    page = write_explorer(tmp_path, "v1", sample_tables(with_conflicts=False), release_date="2031-01-02")
    open_page(browser, page, "#model/" + ALPHA.replace("/", "%2F"))
    wait_for_detail(browser)
    assert "This release has no conflicts table." in browser.find_element(By.ID, "detail-body").text


def test_untrusted_text_is_shown_as_text(browser, release):
    open_page(browser, release)
    assert browser.find_element(By.CSS_SELECTOR, 'tr[data-run-id="d-lab/delta@inference"] th').text == HOSTILE_NAME
    assert browser.find_elements(By.ID, "injected") == []


def test_page_loads_only_local_files_and_shows_present_plots(browser, release):
    open_page(browser, release)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })")
    assert all(name.startswith("file://") for name in resources), resources
    images = browser.find_elements(By.CSS_SELECTOR, ".plot img")
    assert [img.get_attribute("src").rsplit("/", 1)[-1] for img in images] == ["emissions_by_year.png"]
    browser.execute_script("arguments[0].scrollIntoView()", images[0])
    WebDriverWait(browser, 5).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", images[0]))


def test_keyboard_reaches_the_table_and_a_model(browser, release):
    open_page(browser, release)
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.get_attribute("class") == "skip-link"
    skip.send_keys(Keys.ENTER)
    WebDriverWait(browser, 5).until(lambda d: d.switch_to.active_element.get_attribute("id") == "runs-heading")
    link = row_for(browser, "third-co/gamma-2b@pretraining").find_element(By.CSS_SELECTOR, "a.model-link")
    browser.execute_script("arguments[0].focus()", link)
    outline = browser.switch_to.active_element.value_of_css_property("outline-style")
    assert outline != "none"  # a visible focus ring
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for_detail(browser)
    assert browser.find_element(By.ID, "detail-title").text == "Gamma 2B"


def test_phone_width_stacks_rows_without_sideways_scrolling(browser, release):
    open_page(browser, release, width=390, height=844)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    row = row_for(browser, f"{BETA}@pretraining")
    assert row.value_of_css_property("display") == "block"
    assert browser.find_element(By.ID, "sort-select").is_displayed()  # headers are hidden: sort from a menu
    Select(browser.find_element(By.ID, "sort-select")).select_by_value("year:ascending")
    years = [r["year"] for r in sorted(sample_tables()["training_runs"].to_pylist(), key=lambda r: r["year"])]
    shown = [browser.find_element(By.CSS_SELECTOR, f'tr[data-run-id="{run_id}"] [data-label="Year"]').text
             for run_id in shown_run_ids(browser)]
    assert shown == [str(y) for y in years]


def test_large_release_loads_and_pages_its_rows(browser, tmp_path):
    tables = generated_tables(runs=5000, disclosures=20000)
    page = write_explorer(tmp_path, "v1", tables, release_date="2031-01-02")
    started = time.monotonic()
    open_page(browser, page)
    load_seconds = time.monotonic() - started
    count = browser.find_element(By.ID, "count")
    assert count.get_attribute("data-matching") == str(tables["training_runs"].num_rows)
    assert len(shown_run_ids(browser)) == 200  # one page of rows in the document, the rest a click away
    browser.find_element(By.ID, "show-more").click()
    assert len(shown_run_ids(browser)) == 400
    assert load_seconds < 10, f"the page took {load_seconds:.1f} s to load"


def test_latest_committed_release(browser, tmp_path):
    folder = committed_release()
    if folder is None:
        pytest.skip("no committed release under exports/ yet")
    tables = {path.stem: pq.read_table(path) for path in sorted(folder.glob("*.parquet"))}
    created = json.loads((folder / "datapackage.json").read_text()).get("created", "")
    page = write_explorer(tmp_path, folder.name, tables, release_date=created)
    open_page(browser, page)
    runs = tables["training_runs"]
    # the list shows each model and stage once (its preferred run); a model's page shows all its runs
    expected = (runs.filter(pc.equal(runs["precedence"], 1)).num_rows if "precedence" in runs.column_names
                else runs.num_rows)
    assert browser.find_element(By.ID, "count").get_attribute("data-matching") == str(expected)
    assert len(shown_run_ids(browser)) == min(expected, 200)
    first = browser.find_element(By.CSS_SELECTOR, "#runs-body a.model-link")
    model = first.get_attribute("title")
    first.click()
    wait_for_detail(browser)
    if "is_headline" in runs.column_names:  # the headline run of each stage says why it was chosen
        model_runs = [r for r in runs.to_pylist() if r["model_id"] == model]
        cards = browser.find_elements(By.CSS_SELECTOR, "#detail-body article.run-card")
        assert len(cards) == len(model_runs)
        headline_cards = [c for c in cards if c.find_elements(By.CSS_SELECTOR, ".badge-headline")]
        assert len(headline_cards) == sum(r["is_headline"] for r in model_runs)
        for card in headline_cards:
            assert "Why this is the headline:" in card.text
    if "models" in tables:  # the page opens with the model's headline training figure and why it was chosen
        info = next(m for m in tables["models"].to_pylist() if m["model_id"] == model)
        summary = browser.find_element(By.ID, "headline-summary").text
        assert (info["training_tco2e"] is None) == ("No pretraining emissions figure" in summary)
        if info["training_headline_reason"]:
            assert info["training_headline_reason"] in summary
    disclosed = sum(1 for m in tables["disclosures"]["model_id"].to_pylist() if m == model)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#disclosures-table tbody tr")) == disclosed
