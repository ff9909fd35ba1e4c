"""What importers brought in from other on-call products: each object's source product and id."""
