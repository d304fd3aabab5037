"""A finished demo ledger on the embedded chain, its explorer served in-process, and headless Chromium.

The browser is Debian's ``chromium`` driven through ``chromedriver`` at fixed paths: Selenium
Manager is never asked to download anything (``make test`` installs both packages).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from fl_node.crypto.keys import load_private_key
from fl_node.demo import DemoConfig, Federation, run_demo, setup_federation
from fl_node.explorer.views import Explorer
from fl_node.explorer.web import ExplorerServer
from fl_node.task import CustodyConfig, DataConfig, TaskConfig
from incentive.chain import embedded_chain, free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@dataclass
class ServedDemo:
    """A finished demo federation and the explorer serving it."""

    federation: Federation
    explorer: Explorer
    server: ExplorerServer
    out: Path
    screenshots: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> ServedDemo:
    """5 hospitals (one free rider, one label flipper), 4 encrypted rounds, rewards claimed, explorer up."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("demo")
    chain = embedded_chain()
    task = TaskConfig(data=DataConfig(nodes=5), custody=CustodyConfig(key_bits=1024), rounds=4)
    federation = setup_federation(DemoConfig(task=task), chain, out)
    result = run_demo(federation)
    assert result.audit.ok
    explorer = Explorer(chain, federation.ledger.address, federation.store.root, load_private_key(federation.key_path))
    server = ExplorerServer(explorer, free_port()).start()
    screenshots = tmp_path_factory.mktemp("screenshots")
    yield ServedDemo(federation, explorer, server, out, screenshots)
    server.stop()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium at 1440×1000."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):  # `make test` installs them: a missing one is a broken set-up
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} missing: apt-get install chromium chromium-driver (make test does it)")
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
