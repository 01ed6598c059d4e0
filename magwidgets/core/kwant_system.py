"""The same Hamiltonian as a finalized Kwant system, so any result can be checked with the trusted tool."""
from __future__ import annotations

import numpy as np

from .wire import Wire


def to_kwant(wire: Wire, onsite, theta=None):
    """Build the finalized Kwant system equivalent to ``(wire, onsite, theta)``.

    Lead 0 is the left lead (x < 0), lead 1 the right one. Kwant parameters:

    - ``flux``: flux per plaquette in units of h/e (the Landau gauge of :mod:`magwidgets.core.wire`), always;
    - ``lead_energy``: ideal leads only, must equal the energy passed to Kwant (the chains are held at wave number
      ``lead_k`` at that energy: on-site ``E + 2 t cos k``).

    Example: ``kwant.smatrix(to_kwant(wire, onsite), 1.2, params=dict(flux=0.01)).transmission(1, 0)``.

    Raises
    ------
    ImportError
        If Kwant is not installed (``bash scripts/build_kwant.sh`` in a source checkout builds Kwant 1.5).
    """
    try:
        import kwant
    except ImportError as error:  # pragma: no cover - exercised only without Kwant
        raise ImportError(
            "to_kwant needs Kwant 1.5: pip install kwant, or in a source checkout of magwidgets "
            "bash scripts/build_kwant.sh"
        ) from error
    from .observables import _check_site_array, _check_theta

    onsite = np.asarray(_check_site_array(wire, onsite, "onsite"))
    theta = _check_theta(wire, theta)
    theta = np.zeros_like(onsite) if theta is None else np.asarray(theta)
    n_orb, t = wire.n_orbitals, wire.hopping
    identity = np.eye(n_orb)
    sigma_x = np.array([[0, 1], [1, 0]])
    sigma_z = np.array([[1, 0], [0, -1]])
    lattice = kwant.lattice.square(1, norbs=n_orb)

    def block(h, angle):
        if not wire.spin:
            return h
        return h * identity + wire.exchange * (np.cos(angle) * sigma_z + np.sin(angle) * sigma_x)

    def x_hop(site_to, site_from, flux):
        # H[(x+1, y), (x, y)] = -t exp(-2 pi i flux y); Kwant's value for (to, from) is <to|H|from>.
        phase = np.exp(-2j * np.pi * flux * site_from.pos[1])
        return -t * phase * identity if wire.spin else -t * phase

    y_hop = -t * identity if wire.spin else -t
    system = kwant.Builder()
    for x in range(wire.length):
        for y in range(wire.width):
            system[lattice(x, y)] = block(onsite[x, y], theta[x, y])
    system[kwant.builder.HoppingKind((1, 0), lattice)] = x_hop
    system[kwant.builder.HoppingKind((0, 1), lattice)] = y_hop

    lead = kwant.Builder(kwant.TranslationalSymmetry((-1, 0)))
    if wire.lead == "square":
        lead[(lattice(0, y) for y in range(wire.width))] = block(wire.lead_onsite, 0.0) if not wire.spin else wire.lead_onsite * identity
        lead[kwant.builder.HoppingKind((1, 0), lattice)] = x_hop
        lead[kwant.builder.HoppingKind((0, 1), lattice)] = y_hop
    else:
        wave_numbers = np.atleast_1d(wire.lead_k)

        def chain_onsite(site, lead_energy):
            shifts = lead_energy + 2 * t * np.cos(wave_numbers)
            return np.diag(shifts) if wire.spin else shifts[0]

        lead[(lattice(0, y) for y in range(wire.width))] = chain_onsite
        lead[kwant.builder.HoppingKind((1, 0), lattice)] = -t * identity if wire.spin else -t
    system.attach_lead(lead)
    system.attach_lead(lead.reversed())
    return system.finalized()
