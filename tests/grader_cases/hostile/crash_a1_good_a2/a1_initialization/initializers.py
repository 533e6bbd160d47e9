"""Crashes the interpreter at import (SIGSEGV); the a2 of this submission is correct."""

import ctypes

ctypes.string_at(0)
