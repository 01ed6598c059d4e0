"""The random systems compared against Kwant 1.5 (fixture script and live test share them).

Square leads with field up to the quantum-Hall regime, energies 1e-6 t on either side of subband thresholds,
ideal leads, and spin wires with random magnetisation and spin-dependent lead wave numbers.
"""
from __future__ import annotations

import numpy as np

import magwidgets as mw

N_CASES = 24


def subband_threshold(wire: mw.Wire, n: int) -> float:
    """Bottom of transverse subband n (1-based) of a field-free square lead."""
    return wire.lead_onsite - 2 * wire.hopping * np.cos(np.pi * n / (wire.width + 1)) - 2 * wire.hopping


def case(index: int) -> dict:
    """System ``index``: wire, onsite, theta, flux grid, energy grid, and the (flux, energy) of the maps."""
    rng = np.random.default_rng(1000 + index)
    kind = ("square", "square", "ideal", "spin")[index % 4]
    length, width = int(rng.integers(4, 10)), int(rng.integers(3, 9))
    theta = None
    if kind == "square":
        wire = mw.Wire(length, width)
        onsite = 4 + rng.uniform(-1.5, 1.5, (length, width))
        if index % 8 == 0:
            # Energies 1e-6 t either side of a subband threshold, at zero and small flux.
            threshold = subband_threshold(wire, int(rng.integers(1, width + 1)))
            energy = np.array([threshold - 1e-6, threshold + 1e-6])
            flux = np.array([0.0, 0.003])
        else:
            # Up to the quantum-Hall regime (magnetic length ~ 1 site at flux 0.15).
            energy = np.sort(rng.uniform(0.2, 2.5, 2))
            flux = np.array([0.0, rng.uniform(0.01, 0.05), rng.uniform(0.1, 0.2)])
    elif kind == "ideal":
        wire = mw.Wire(length, width, lead="ideal", lead_k=float(rng.uniform(0.3, 2.8)))
        onsite = rng.uniform(-1.5, 1.5, (length, width))
        energy = np.sort(rng.uniform(-1, 1, 2))
        flux = np.array([0.0, rng.uniform(0.0, 0.15)])
    else:
        lead_k = tuple(float(k) for k in rng.uniform(0.2, 2.9, 2))
        wire = mw.Wire(length, width, lead="ideal", spin=True, exchange=float(rng.uniform(0.2, 1.0)), lead_k=lead_k)
        onsite = rng.uniform(-1, 1, (length, width))
        theta = rng.uniform(0, 2 * np.pi, (length, width))
        energy = np.sort(rng.uniform(-1, 1, 2))
        flux = np.array([0.0, rng.uniform(0.0, 0.15)])
    return dict(wire=wire, onsite=onsite, theta=theta, flux=flux, energy=energy, map_point=(flux[-1], energy[-1]))


def kwant_values(spec: dict) -> dict:
    """Conductance grid, wavefunction intensity and LDOS maps computed by Kwant."""
    import kwant

    wire = spec["wire"]
    system = mw.to_kwant(wire, spec["onsite"], spec["theta"])

    def params(flux, energy):
        return dict(flux=flux, lead_energy=energy) if wire.lead == "ideal" else dict(flux=flux)

    conductance = np.array(
        [[kwant.smatrix(system, e, params=params(p, e)).transmission(1, 0) for e in spec["energy"]] for p in spec["flux"]]
    )
    flux, energy = spec["map_point"]
    positions = np.array([site.pos for site in system.sites]).round().astype(int)

    def to_grid(per_orbital):
        per_site = per_orbital.reshape(len(positions), wire.n_orbitals).sum(-1)
        grid = np.zeros((wire.length, wire.width))
        grid[positions[:, 0], positions[:, 1]] = per_site
        return grid

    waves = kwant.wave_function(system, energy, params=params(flux, energy))(0)
    intensity = to_grid((np.abs(waves) ** 2).sum(0))
    density = to_grid(kwant.ldos(system, energy, params=params(flux, energy)))
    return dict(conductance=conductance, intensity=intensity, ldos=density)


def magwidgets_values(spec: dict) -> dict:
    args = (spec["wire"], spec["onsite"])
    flux, energy = spec["map_point"]
    return dict(
        conductance=np.asarray(mw.conductance(*args, spec["flux"], spec["energy"], spec["theta"])),
        intensity=np.asarray(mw.wavefunction_intensity(*args, flux, energy, spec["theta"])),
        ldos=np.asarray(mw.ldos(*args, flux, energy, spec["theta"])),
    )
