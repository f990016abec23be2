"""Real data sets shipped with tfclinic (see tfclinic.real_data, which loads them)."""
