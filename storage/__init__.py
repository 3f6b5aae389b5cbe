"""Storage layer: SQLModel tables, the async engine, the unit of work and migrations.

Nothing here imports the layers above it (flows/, bot/, web/, scheduler/)."""
