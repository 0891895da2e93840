datacenters = ["dc1", "dc3"]
labels = {
  team = "payments"
  tier = "gold"
}
