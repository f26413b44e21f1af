"""EnergyGrid lives in core (semiblind.grid): the model-file data contract needs no simulator."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from semiblind.grid import NAMED_GRIDS, EnergyGrid


def test_core_grid_round_trip_and_re_export():
    from semiblind.data import xray

    assert xray.EnergyGrid is EnergyGrid and xray.NAMED_GRIDS is NAMED_GRIDS
    g = EnergyGrid.log(0.6, 7.6, 12, name="log-12")
    assert EnergyGrid.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    np.testing.assert_allclose(EnergyGrid.default().centers[[0, -1]], [0.5 + 7 / 130, 7.5 - 7 / 130])


def test_importing_the_grid_builds_nothing_and_loads_no_simulator():
    code = ("import sys, semiblind.grid; "
            "print(any(m.startswith(('semiblind.data', 'scipy.interpolate')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
