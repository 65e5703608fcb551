window.YTD.account.part0 = [
  {
    "account": {
      "email": "alex@example.com",
      "createdVia": "web",
      "username": "alexkim",
      "accountId": "1234567",
      "createdAt": "2012-05-01T10:00:00.000Z",
      "accountDisplayName": "Alex Kim"
    }
  }
]