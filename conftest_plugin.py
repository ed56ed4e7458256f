"""The project's own loader of the fakekms pytest plugin, for a checkout where fakekms is
importable but not installed (so its ``pytest11`` entry point is not registered):

    pytest -p conftest_plugin

The plugin itself is ``fakekms.pytest_plugin``, inside the package, where it cannot clash with a
user's files. It is registered under the entry point's name, ``fakekms``, so that an installed
fakekms does not load it a second time and ``-p no:fakekms`` still turns it off.
"""

import fakekms.pytest_plugin as _plugin


def pytest_addhooks(pluginmanager):
    if pluginmanager.get_plugin("fakekms") is None and not pluginmanager.is_blocked("fakekms"):
        pluginmanager.register(_plugin, "fakekms")
