"""Train with OpenRLHF's Ray PPO instead of satori's loop: ``satori rl CONFIG --engine openrlhf``.

``export`` writes the prompt set in OpenRLHF's format, ``reward_func.py`` is the reward file
OpenRLHF loads (satori's verifier and RAE bonus), ``launch`` maps the config to OpenRLHF's flags
and runs it. Importing this package imports nothing heavy.
"""
