"""tandem-rl: tandem reinforcement learning with verifiable rewards.

A trained *senior* and a frozen *junior* co-write every rollout; the usual verifiable reward scores the whole text;
the usual GRPO loss updates the senior on the senior's tokens only (Jiao et al., arXiv 2606.28166).
"""

__version__ = "0.1.0"
