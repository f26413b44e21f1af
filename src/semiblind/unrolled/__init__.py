"""Unrolled networks (LISTA, LISTA-CP, ISTA-LLT, LPALM); each layer calls a solver iterate."""
