"""The declarative mapping engine: mapping files, field transforms and value normalisation."""
