"""``import amikit`` stays light, and ``df.ami`` works on event frames only, however pandas came."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import amikit


def _python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (a clean sys.modules) and return what it printed."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_import_amikit_loads_neither_the_simulator_nor_pandas():
    loaded = _python("""
        import sys
        import amikit
        heavy = ("pandas", "numpy", "pyarrow", "matplotlib", "ipywidgets", "amikit.sim",
                 "amikit.lab", "amikit.frames", "amikit.tables")
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    assert loaded == "[]"


def test_lazy_names_are_there_on_first_use():
    out = _python("""
        import sys
        import amikit
        assert "amikit.sim" not in sys.modules
        print(amikit.Simulator.__module__, amikit.find_pbx.__module__, amikit.FoundPBX.__module__,
              amikit.read_events.__module__, "Simulator" in dir(amikit))
    """)
    assert out == "amikit.sim amikit.lab amikit.lab amikit.frames True"


@pytest.mark.parametrize("pandas_first", [False, True], ids=["pandas-after", "pandas-before"])
def test_df_ami_works_after_import_amikit_however_pandas_came(pandas_first):
    imports = "import pandas as pd\nimport amikit" if pandas_first else \
        "import amikit\nimport pandas as pd"
    out = _python(imports + """
import importlib.resources
frame = pd.DataFrame({"Event": ["Newchannel", "Hangup"], "Uniqueid": ["1.1", "1.1"],
                      "Linkedid": ["1.1", "1.1"], "Channel": ["Local/1@x-1;1"] * 2,
                      "Timestamp": pd.to_datetime([1.0, 3.0], unit="s", utc=True)})
print(len(frame.ami.channels()), type(pd.__spec__.loader).__name__,
      importlib.resources.files("pandas").is_dir())
""")
    # pandas keeps its own loader: the hook only watched it finish
    assert out == "1 SourceFileLoader True"


def test_df_ami_refuses_a_frame_that_is_not_an_event_frame():
    df = amikit.read_events(amikit.sample_recording())
    channels = df.ami.channels()
    with pytest.raises(AttributeError, match=r"event frames .* no 'Event' column"):
        channels.ami.calls()
    assert not hasattr(df.ami.calls(), "ami"), "pandas reads the AttributeError as 'no accessor'"
    import pandas as pd

    with pytest.raises(AttributeError, match="columns: a, b"):
        pd.DataFrame({"a": [1], "b": [2]}).ami  # noqa: B018
    # event frames of every shape keep it: a slice, one call, an empty frame
    assert len(df[df["Event"] == "Hangup"].ami.channels()) > 0
    assert len(df.ami.call(df.ami.calls()["Linkedid"].iloc[0]).ami.channels()) > 0
    assert amikit.events_frame([]).ami.calls().empty
