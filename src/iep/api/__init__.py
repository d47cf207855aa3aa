"""HTTP plumbing shared by every feature's endpoints: body parsing, auth dependency, problem answers."""
