import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Seconds any one test may take (the slowest, the 2017 milestone trained in the tab, takes about a minute): a test
# that hangs, a browser driver that never answers say, fails with its stack instead of using up CI's time.
TEST_TIMEOUT = 900


def pytest_configure(config):
    if config.pluginmanager.hasplugin("timeout") and not config.option.timeout:
        config.option.timeout = TEST_TIMEOUT
