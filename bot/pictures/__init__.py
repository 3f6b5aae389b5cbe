"""Pictures the bot draws (Pillow): the projects board, the before/after comparison."""
