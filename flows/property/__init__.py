"""Property-management evaluation and the monthly ranking (物业考核晾晒, F-10)."""
