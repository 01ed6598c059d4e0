"""Print the acceptance numbers of the seed reproductions from their results archives.

    magwidgets design examples/seed000_defect.toml        # ... and the other examples/*.toml, then
    python scripts/report_reproductions.py results/

Reads whichever of results/seed000_defect.npz, seed004_potential(_noise).npz, seed004_magnetisation.npz,
seed004_fourier.npz, seed000_arches(_smooth).npz, seed000_reclining(_smooth).npz exist.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from magwidgets.io import load_design_result


def _defect(arrays, metadata) -> str:
    import magwidgets as mw

    loss = arrays["loss"]
    peak = np.unravel_index(np.argmax(arrays["onsite"]), arrays["onsite"].shape)
    wire = mw.Wire(30, 30)
    intensity = [np.asarray(mw.wavefunction_intensity(wire, onsite, 0.0, 1.2))
                 for onsite in (arrays["onsite"], arrays["truth_onsite"])]
    difference = np.abs(intensity[0] - intensity[1]).max() / intensity[1].max()
    return (f"loss {loss[0]:+.3f} -> best {loss.min():+.3f} at step {int(np.argmin(loss))} of {metadata['steps']}, "
            f"{metadata['wall_time']:.0f} s; potential maximum at (x, y) = {tuple(int(i) for i in peak)}; "
            f"max |WI - WI_true| / max WI_true at B = 0: {difference:.3f}")


def _potential(arrays, metadata) -> str:
    error = np.abs(arrays["onsite"] - arrays["truth_onsite"])
    return (f"cost {metadata['best_loss']:.3e} after {metadata['steps']} steps ({metadata['wall_time']:.0f} s); "
            f"max site error {error.max():.3g}, mean {error.mean():.3g}; family costs {np.sort(arrays['family_loss'])}")


def _magnetisation(arrays, metadata) -> str:
    truth = arrays["truth_theta"]
    images = (("as is", truth), ("x-mirror", truth[::-1]), ("y-mirror", truth[:, ::-1]),
              ("rotated by 180 deg", truth[::-1, ::-1]))
    errors = {name: np.abs(np.cos(arrays["theta"]) - np.cos(image)).max() for name, image in images}
    return (f"cost {metadata['best_loss']:.3e} after {metadata['steps']} steps ({metadata['wall_time']:.0f} s); "
            "max |m_z - m_z,true| against the truth's images: "
            + ", ".join(f"{name} {value:.3g}" for name, value in errors.items()))


def _fourier(arrays, metadata) -> str:
    from magwidgets.design.fourier import first_peak, triangular_lattice

    _, box = triangular_lattice()
    loss = arrays["loss"]
    return (f"image MSE {loss[0]:.4g} -> {loss[-1]:.4g} ({loss[0] / loss[-1]:.1f}x lower); first g(r) peak "
            f"{first_peak(arrays['positions'], box):.3f} a vs true {first_peak(arrays['truth_positions'], box):.3f} a")


def _curve(arrays, metadata) -> str:
    from magwidgets.design import smoothness

    rms = np.sqrt(np.mean((arrays["conductance"] - arrays["target"]) ** 2))
    return f"RMS deviation {rms:.4f} e^2/h, L_pot {float(smoothness(arrays['onsite'])):.2f}, {metadata['steps']} steps"


REPORTS = {
    "seed000_defect": _defect,
    "seed004_potential": _potential,
    "seed004_potential_noise": _potential,
    "seed004_magnetisation": _magnetisation,
    "seed004_fourier": _fourier,
    "seed000_arches": _curve,
    "seed000_arches_smooth": _curve,
    "seed000_reclining": _curve,
    "seed000_reclining_smooth": _curve,
}


def main(directory: str = "results") -> None:
    for name, report in REPORTS.items():
        path = os.path.join(directory, name + ".npz")
        if os.path.exists(path):
            print(f"{name}: {report(*load_design_result(path))}")


if __name__ == "__main__":
    main(*sys.argv[1:])
