"""``python -m figures``: draw the study's figures from a tables folder (see figures/draw.py)."""
from figures.draw import main

main()
