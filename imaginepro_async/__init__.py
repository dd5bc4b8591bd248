"""imaginepro-async: an asyncio SDK for ImaginePro's image API."""
