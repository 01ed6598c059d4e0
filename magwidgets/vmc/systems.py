"""Atoms and molecules for variational Monte Carlo: nuclei, charges, electrons per spin and reference energies.

Atomic units throughout (bohr, hartree). Reference energies are the exact non-relativistic fixed-nucleus values
and the Hartree-Fock limits the FermiNet talk (seed 003) measures against: standard literature values (FermiNet,
Pfau et al. 2020, reports Li -7.47798(1), Be -14.66733(3) and LiH -8.07050(1) Ha against them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

ELEMENTS = {"H": 1, "He": 2, "Li": 3, "Be": 4, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Ne": 10}


@dataclass(frozen=True, eq=False)
class System:
    """Nuclei at fixed positions and the electrons around them.

    Parameters
    ----------
    name : str
    positions : (n_atoms, 3) array
        Nuclear positions in bohr.
    charges : (n_atoms,) array
        Nuclear charges Z.
    n_up, n_down : int
        Electrons of each spin; n_up >= n_down (the up block comes first in the electron array).
    exact, hartree_fock : float, optional
        Reference energies in hartree, drawn as lines in the panel.
    """

    name: str
    positions: np.ndarray
    charges: np.ndarray
    n_up: int
    n_down: int
    exact: Optional[float] = None
    hartree_fock: Optional[float] = None

    def __post_init__(self) -> None:
        positions = np.asarray(self.positions, float).reshape(-1, 3)
        charges = np.asarray(self.charges, float).reshape(-1)
        if positions.shape[0] != charges.shape[0] or charges.size == 0:
            raise ValueError(f"positions {positions.shape} and charges {charges.shape}: expected one position "
                             "(x, y, z) per nucleus and at least one nucleus")
        if not (np.all(np.isfinite(positions)) and np.all(np.isfinite(charges)) and np.all(charges > 0)):
            raise ValueError("positions must be finite and charges finite and > 0")
        if self.n_down < 0 or self.n_up < max(self.n_down, 1):
            raise ValueError(f"expected n_up >= n_down >= 0 and n_up >= 1, got n_up={self.n_up}, n_down={self.n_down}")
        object.__setattr__(self, "positions", positions)
        object.__setattr__(self, "charges", charges)

    def _key(self) -> tuple:
        return (self.name, self.positions.tobytes(), self.charges.tobytes(), self.n_up, self.n_down)

    def __hash__(self) -> int:  # hashable, so that jit can treat a system as static
        return hash(self._key())

    def __eq__(self, other) -> bool:
        return isinstance(other, System) and self._key() == other._key()

    @property
    def n_electrons(self) -> int:
        return self.n_up + self.n_down

    @property
    def nuclear_repulsion(self) -> float:
        """``sum_{I<J} Z_I Z_J / |R_I - R_J|``."""
        energy = 0.0
        for i in range(len(self.charges)):
            for j in range(i):
                energy += self.charges[i] * self.charges[j] / np.linalg.norm(self.positions[i] - self.positions[j])
        return float(energy)


def molecule(atoms: Sequence[tuple[str | float, Sequence[float]]], *, charge: int = 0, spin: Optional[int] = None,
             name: str = "molecule", exact: Optional[float] = None, hartree_fock: Optional[float] = None) -> System:
    """A user geometry: ``[("Li", (0, 0, 0)), ("H", (0, 0, 3.015))]`` in bohr (an element symbol or a charge Z).

    ``spin`` is n_up - n_down (default: 0 or 1, the lowest allowed by the electron count).
    """
    charges = []
    for symbol, _ in atoms:
        if isinstance(symbol, str):
            if symbol not in ELEMENTS:
                raise ValueError(f"unknown element {symbol!r}; expected one of {sorted(ELEMENTS)} or a charge Z")
            charges.append(ELEMENTS[symbol])
        else:
            charges.append(float(symbol))
    n_electrons = int(round(sum(charges))) - int(charge)
    spin = n_electrons % 2 if spin is None else int(spin)
    if n_electrons < 1 or spin < 0 or (n_electrons - spin) % 2 or spin > n_electrons:
        raise ValueError(f"{n_electrons} electrons cannot have n_up - n_down = {spin}")
    return System(name, np.array([position for _, position in atoms], float), np.array(charges, float),
                  (n_electrons + spin) // 2, (n_electrons - spin) // 2, exact, hartree_fock)


def _atom(symbol: str, exact: float, hartree_fock: float) -> System:
    return molecule([(symbol, (0.0, 0.0, 0.0))], name=symbol, exact=exact, hartree_fock=hartree_fock)


SYSTEMS: dict[str, System] = {system.name: system for system in (
    _atom("H", -0.5, -0.5),
    _atom("He", -2.903724377, -2.861680),
    _atom("Li", -7.47806032, -7.432727),
    _atom("Be", -14.667356, -14.573023),
    molecule([("H", (0.0, 0.0, -0.70055)), ("H", (0.0, 0.0, 0.70055))], name="H2",
             exact=-1.1744757, hartree_fock=-1.133630),                    # R = 1.4011 bohr
    molecule([("Li", (0.0, 0.0, 0.0)), ("H", (0.0, 0.0, 3.015))], name="LiH",
             exact=-8.070548, hartree_fock=-7.987352),                     # R = 3.015 bohr
)}
